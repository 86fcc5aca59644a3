"""Filters for the admin's own pages, so a template writes a figure as the lists do:
``{{ entry.created_at|moment }}``, ``{{ member.points_balance|points }}``,
``{{ entry.points|signed_points }}``."""

import re
from typing import Any

from django import template

from core import formatting

register = template.Library()
JOB_NAME = re.compile(r"[a-z]+(_[a-z]+)+")


@register.filter
def moment(value: Any) -> str:
    return formatting.moment_html(value)


@register.filter
def points(value: int | None) -> str:
    return formatting.signed_or_plain_points(value)


@register.filter
def signed_points(value: int | None) -> str:
    return formatting.signed_or_plain_points(value, signed=True)


@register.filter
def day(value: Any) -> str:
    return formatting.date(value, locale="en")


@register.filter
def actor(label: str) -> str:
    """Who acted, for people: a staff user's or a key's label as recorded, a scheduled
    job's name in words (``release_pending_points``: "Release pending points"), and "The
    system" where nobody is named."""
    if not label:
        return "The system"
    if JOB_NAME.fullmatch(label):
        return label.replace("_", " ").capitalize()
    return label
