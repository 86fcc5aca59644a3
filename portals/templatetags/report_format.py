"""Template filters for report figures, in the active language (``portals.formatting``):

    {% load report_format %}
    {{ amount|money:"EUR" }}  {{ report.value|amounts }}  {{ issued|points }}  {{ rate|percent }}
    {{ issued|change:previous }}  <span class="{{ issued|change_direction:previous }}">
    {{ day|human_date }}  {{ period.start|date_range:period.end }}  {{ p90|duration }}
    {{ month|human_month }}

A missing figure (``None``) is written as an em dash."""

import datetime
from collections.abc import Iterable
from decimal import Decimal

from django import template

from core import formatting
from portals import report_changes

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    return formatting.money(amount, currency)


@register.filter
def amounts(values: Iterable[formatting.HasAmount]) -> str:
    return formatting.amounts(values)


@register.filter
def points(value: int | None) -> str:
    return formatting.points(value)


@register.filter
def number(value: int | Decimal | None) -> str:
    return formatting.number(value)


@register.filter
def percent(ratio: Decimal | None) -> str:
    return formatting.percent(ratio)


@register.filter
def change(current: int | Decimal | None, previous: int | Decimal | None) -> str:
    return report_changes.change(current, previous)


@register.filter
def change_direction(current: int | Decimal | None, previous: int | Decimal | None) -> str:
    return formatting.change_direction(current, previous)


@register.filter
def human_date(value: datetime.date | None) -> str:
    return formatting.date(value)


@register.filter
def human_month(value: datetime.date | None) -> str:
    return formatting.month(value)


@register.filter
def month_name(value: datetime.date | None) -> str:
    return formatting.month_name(value)


@register.filter
def date_range(start: datetime.date | None, end: datetime.date | None) -> str:
    return formatting.date_range(start, end)


@register.filter
def duration(value: datetime.timedelta | None) -> str:
    return formatting.duration(value)


@register.filter
def as_of(value: datetime.datetime | None, zone: datetime.tzinfo) -> str:
    return formatting.moment(value, zone)
