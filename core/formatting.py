"""Figures written for people, in the reader's locale (Babel's CLDR data): money with its
currency's own decimals (``$387.00``, ``387,00 €``, ``¥1,200``), points with thousands
separators, ratios as percents with one decimal, the change against the previous period
(``portals.report_changes``), dates, date ranges, durations and moments.

Every function takes ``locale`` (a Babel or Django language code: ``en``, ``fr``,
``pt-br``); without one it uses the active Django language, so a template filter and a
PDF rendered under ``translation.override`` write the same. A missing figure (``None``)
is written as an em dash, never as ``None`` or ``0``.

Money is never a float here: amounts are ``Decimal`` quantized with ``core.money`` (half
up, the currency's exponent) before Babel writes them.

Pure: no ORM.
"""

import copy
import datetime
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from typing import Protocol

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval, format_skeleton
from babel.numbers import (
    format_currency,
    format_decimal,
    get_group_symbol,
    get_minus_sign_symbol,
)
from babel.units import format_unit
from django.utils import timezone, translation
from django.utils.html import format_html

from core.currency import currency_exponent
from core.money import quantize_money

MISSING = "—"
# A typographic minus: a hyphen next to a figure reads as a dash on a dashboard.
MINUS = "\u2212"


@cache
def _locale(code: str) -> Locale:
    try:
        return Locale.parse(translation.to_locale(code))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def reader_locale(locale: str | None = None) -> Locale:
    """The Babel locale for ``locale``, else for the active language (English when the
    code is unknown)."""
    return _locale(locale or translation.get_language() or "en")


def country(code: str, *, locale: str | None = None) -> str:
    """The country's name in the reader's language ("Deutschland" for DE in German)."""
    return reader_locale(locale).territories.get(code, code)


def money(amount: Decimal | None, currency: str, *, locale: str | None = None) -> str:
    """``amount`` in ``currency``, rounded half-up to the currency's decimals."""
    if amount is None:
        return MISSING
    if isinstance(amount, float):
        raise TypeError("Money is a Decimal, never a float.")
    exact = quantize_money(Decimal(amount), currency)
    return format_currency(exact, currency, locale=reader_locale(locale), currency_digits=True)


def unit_money(amount: Decimal | None, currency: str, *, locale: str | None = None) -> str:
    """A price per unit (a point's value, a fee per redemption), which may hold more
    decimals than the currency: ``$0.005``; at least the currency's own, no trailing
    zeros past them (``$0.01`` for 0.010000)."""
    if amount is None:
        return MISSING
    if isinstance(amount, float):
        raise TypeError("Money is a Decimal, never a float.")
    exact = Decimal(amount).normalize()
    if exact == exact.quantize(Decimal(1).scaleb(-currency_exponent(currency))):
        return money(exact, currency, locale=locale)
    return format_currency(
        exact, currency, locale=reader_locale(locale), decimal_quantization=False
    )


class HasAmount(Protocol):
    amount: Decimal
    currency: str


def amounts(values: Iterable[HasAmount], *, locale: str | None = None) -> str:
    """Totals in several currencies, one after the other (``$77.50 · £25.00``); a dash
    when there are none. Amounts of different currencies are never added up."""
    written = [money(value.amount, value.currency, locale=locale) for value in values]
    return " · ".join(written) if written else MISSING


def _babel_points(value: int, code: str) -> str:
    return format_decimal(value, format="#,##0", locale=_locale(code))


@cache
def _grouping_symbols(code: str) -> tuple[str, str] | None:
    """The locale's group separator and minus sign, when writing them around Python's
    grouping of three gives what Babel writes (checked once a locale); else None."""
    where = _locale(code)
    symbols = (
        get_group_symbol(where, numbering_system="latn"),
        get_minus_sign_symbol(where, numbering_system="latn"),
    )
    sample = -1234567
    if _grouped(sample, symbols) != _babel_points(sample, code):
        return None
    return symbols


def _grouped(value: int, symbols: tuple[str, str]) -> str:
    group, minus = symbols
    text = f"{abs(value):,}".replace(",", group)
    return minus + text if value < 0 else text


def points(value: int | None, *, locale: str | None = None) -> str:
    """A whole number of points with the locale's grouping: ``12,345``. What Babel writes
    for the pattern ``#,##0``; written directly where that gives the same (a year's
    daily table has thousands of them)."""
    if value is None:
        return MISSING
    code = locale or translation.get_language() or "en"
    whole = int(value)
    symbols = _grouping_symbols(code)
    return _grouped(whole, symbols) if symbols else _babel_points(whole, code)


def number(value: int | Decimal | None, *, places: int = 0, locale: str | None = None) -> str:
    """A count or a quantity, with ``places`` decimals (half-even, as Babel rounds)."""
    if value is None:
        return MISSING
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(Decimal(value), format=pattern, locale=reader_locale(locale))


def percent_text(ratio: Decimal, *, least: int, most: int, locale: str | None) -> str:
    where = reader_locale(locale)
    pattern = copy.copy(where.percent_formats[None])
    pattern.frac_prec = (least, most)
    return pattern.apply(Decimal(ratio), where)


def percent(ratio: Decimal | None, *, locale: str | None = None) -> str:
    """A ratio (``Decimal("0.125")``) as a percent with one decimal: ``12.5%``."""
    if ratio is None:
        return MISSING
    return percent_text(ratio, least=1, most=1, locale=locale)


def percent_short(ratio: Decimal | None, *, locale: str | None = None) -> str:
    """A percent with a decimal only when it has one (``10%``, ``12.5%``): for an axis."""
    if ratio is None:
        return MISSING
    return percent_text(ratio, least=0, most=1, locale=locale)


def change_ratio(current: int | Decimal | None, previous: int | Decimal | None) -> Decimal | None:
    """``(current - previous) / |previous|``; ``None`` when either is missing or the
    previous is 0 (a change from nothing has no ratio)."""
    if current is None or previous is None or not previous:
        return None
    return (Decimal(current) - Decimal(previous)) / abs(Decimal(previous))


def change_direction(current: int | Decimal | None, previous: int | Decimal | None) -> str:
    """``up``, ``down``, ``flat``, ``new`` (from 0 to something) or ``none`` (a figure is
    missing): for a badge's class and its words."""
    if current is None or previous is None:
        return "none"
    if not previous:
        return "flat" if not current else "new"
    if current == previous:
        return "flat"
    return "up" if current > previous else "down"


def date(value: datetime.date | None, *, locale: str | None = None, length: str = "medium") -> str:
    """``Mar 3, 2026`` (``length`` is Babel's: short, medium, long, full)."""
    if value is None:
        return MISSING
    if isinstance(value, datetime.datetime):
        value = value.date()
    return format_date(value, format=length, locale=reader_locale(locale))


def day(value: datetime.date | None, *, locale: str | None = None) -> str:
    """A day without its year, for an axis: ``Mar 3``, ``3 mars``."""
    if value is None:
        return MISSING
    return format_skeleton("MMMd", value, locale=reader_locale(locale))


def month(value: datetime.date | None, *, locale: str | None = None, short: bool = False) -> str:
    """A month, as cohorts are named: ``Mar 2026`` (``short``: the year's last two digits)."""
    if value is None:
        return MISSING
    return format_skeleton("MMMyy" if short else "yMMM", value, locale=reader_locale(locale))


def month_name(value: datetime.date | None, *, locale: str | None = None) -> str:
    """A month in full, as a report is titled: ``November 2026``, ``novembre 2026``."""
    if value is None:
        return MISSING
    return format_skeleton("yMMMM", value, locale=reader_locale(locale))


def date_range(
    start: datetime.date | None, end: datetime.date | None, *, locale: str | None = None
) -> str:
    """Both ends included, written once where they share a month or a year:
    ``Mar 3 to 9, 2026`` (with an en dash); one day is that day."""
    if start is None or end is None:
        return MISSING
    if start == end:
        return date(start, locale=locale)
    return format_interval(start, end, skeleton="yMMMd", locale=reader_locale(locale))


_UNITS = (
    ("duration-day", 86_400),
    ("duration-hour", 3_600),
    ("duration-minute", 60),
    ("duration-second", 1),
)


def duration(value: datetime.timedelta | None, *, locale: str | None = None) -> str:
    """The two largest units of an elapsed time, rounded down: ``2 d 4 h``, ``3 h 15 min``,
    ``45 s``; a dash when there is none."""
    if value is None:
        return MISSING
    seconds = max(int(value.total_seconds()), 0)
    where = reader_locale(locale)
    parts: list[str] = []
    for unit, size in _UNITS:
        amount, seconds = divmod(seconds, size)
        if amount or parts:
            parts.append(format_unit(amount, unit, length="short", locale=where) if amount else "")
        if len(parts) == 2:
            break
    parts = [part for part in parts if part]
    if not parts:
        return format_unit(0, "duration-second", length="short", locale=where)
    return " ".join(parts)


def ratio_of(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """``part / whole`` as an exact Decimal, ``None`` when ``whole`` is 0."""
    if not whole:
        return None
    return Decimal(part) / Decimal(whole)


def moment(
    value: datetime.datetime | None, zone: datetime.tzinfo, *, locale: str | None = None
) -> str:
    """A time in ``zone``, with the zone named: ``Dec 6, 2026, 10:42 AM CET``."""
    if value is None:
        return MISSING
    day, time = moment_parts(value, zone, locale=locale)
    return f"{day}, {time}"


def moment_parts(
    value: datetime.datetime, zone: datetime.tzinfo, *, locale: str | None = None
) -> tuple[str, str]:
    """``moment``'s day and time of day with its zone, for a page that sets them on two
    lines: ``("Dec 6, 2026", "10:42 AM CET")``."""
    local = value.astimezone(zone)
    where = reader_locale(locale)
    day = format_date(local.date(), "medium", locale=where)
    time = format_skeleton(
        "Hm" if where.time_formats["short"].pattern.startswith("H") else "hm", local, locale=where
    )
    return day, f"{time} {local.tzname()}"


def signed_or_plain_points(value: int | None, *, signed: bool = False) -> str:
    """Points as ``points`` writes them, with their sign when ``signed`` (``+120``,
    ``-500`` with a minus sign)."""
    if value is None:
        return MISSING
    text = points(abs(value) if signed else value)
    if not signed or value == 0:
        return text
    return ("+" if value > 0 else MINUS) + text


def moment_html(value: datetime.datetime | None) -> str:
    """A timestamp in one format everywhere, in the current time zone and named: the day
    on one line and the time under it, so a table's time column stays narrow."""
    if value is None:
        return MISSING
    day, time = moment_parts(value, timezone.get_current_timezone())
    return format_html('<span class="ops-moment">{},<br>{}</span>', day, time)
