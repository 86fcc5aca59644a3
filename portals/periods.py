"""The dashboard's date range: a preset (the last 7, 30, 90 or 365 days, this month,
last month, this year) or a custom range, read from the page's GET parameters.

A period is whole local days of the merchant, both ends included: ``today`` is the
merchant's local date, which the caller works out (``merchant.timezone``); the report
selectors turn the days into instants. Presets end today, so their last day is still
filling up.

``period_from_query`` never raises: a bad parameter (an unknown preset, a date that is
not one, a range that ends before it starts, ends in the future or spans more than five
years) gives the default period and the messages to show beside the form.

Pure: no ORM.
"""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.formatting import date_range

DEFAULT_PRESET = "last_30"
CUSTOM = "custom"
PRESETS = {
    "last_7": gettext_lazy("Last 7 days"),
    "last_30": gettext_lazy("Last 30 days"),
    "last_90": gettext_lazy("Last 90 days"),
    "last_365": gettext_lazy("Last 365 days"),
    "this_month": gettext_lazy("This month"),
    "last_month": gettext_lazy("Last month"),
    "this_year": gettext_lazy("This year"),
    CUSTOM: gettext_lazy("Custom range"),
}
# Five years of days, leap days included: longer ranges are a typo, and the daily
# series would be too long to draw.
MAX_DAYS = 5 * 365 + 2
# The earliest day a custom range may start on: older dates are typos too.
EARLIEST = datetime.date(2000, 1, 1)
ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """``start`` to ``end``, both included (local days of the merchant)."""

    start: datetime.date
    end: datetime.date
    preset: str = CUSTOM

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("A period ends on or after its start.")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[datetime.date]:
        """Every day of the period, in order (the x axis of a daily series)."""
        return [self.start + datetime.timedelta(days=n) for n in range(self.days)]

    def previous(self) -> "Period":
        """The period of the same number of days that ends the day before this one."""
        end = self.start - ONE_DAY
        return Period(start=end - datetime.timedelta(days=self.days - 1), end=end, preset=CUSTOM)

    @property
    def label(self) -> str:
        """``Last 30 days``, or the dates of a custom range (``Mar 3 to 9, 2026``)."""
        if self.preset != CUSTOM and self.preset in PRESETS:
            return str(PRESETS[self.preset])
        return date_range(self.start, self.end)

    @property
    def range_label(self) -> str:
        """The dates, whatever the preset: for a heading beside the preset's name."""
        return date_range(self.start, self.end)

    def query(self) -> dict[str, str]:
        """The GET parameters that give this period back (for links and downloads)."""
        if self.preset != CUSTOM:
            return {"period": self.preset}
        return {"period": CUSTOM, "start": self.start.isoformat(), "end": self.end.isoformat()}


def preset_period(preset: str, *, today: datetime.date) -> Period:
    """The preset's days as of ``today``; ``KeyError`` for a name that is not a preset
    (``custom`` included: it has no days of its own)."""
    if preset in ("last_7", "last_30", "last_90", "last_365"):
        length = int(preset.removeprefix("last_"))
        return Period(today - datetime.timedelta(days=length - 1), today, preset)
    if preset == "this_month":
        return Period(today.replace(day=1), today, preset)
    if preset == "last_month":
        end = today.replace(day=1) - ONE_DAY
        return Period(end.replace(day=1), end, preset)
    if preset == "this_year":
        return Period(today.replace(month=1, day=1), today, preset)
    raise KeyError(preset)


def default_period(*, today: datetime.date) -> Period:
    return preset_period(DEFAULT_PRESET, today=today)


def _parse_date(raw: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(raw.strip())
    except ValueError:
        return None


def _value(params: Mapping[str, str], key: str) -> str:
    value = params.get(key)
    # A QueryDict's .get gives the last value; a plain mapping may hold a list.
    if isinstance(value, list | tuple):
        value = value[-1] if value else ""
    return str(value or "").strip()


def period_from_query(
    params: Mapping[str, str], *, today: datetime.date
) -> tuple[Period, list[str]]:
    """The period the page asks for (``period``, and ``start``/``end`` as ISO dates for a
    custom range), or the default (the last 30 days) with the reasons it was refused.

    Dates without a preset mean a custom range."""
    preset = _value(params, "period")
    raw_start, raw_end = _value(params, "start"), _value(params, "end")
    if not preset:
        if not raw_start and not raw_end:
            return default_period(today=today), []
        preset = CUSTOM
    if preset not in PRESETS:
        return default_period(today=today), [_("Choose one of the listed periods.")]
    if preset != CUSTOM:
        return preset_period(preset, today=today), []
    return _custom(raw_start, raw_end, today=today)


def _custom(raw_start: str, raw_end: str, *, today: datetime.date) -> tuple[Period, list[str]]:
    errors: list[str] = []
    start, end = _parse_date(raw_start), _parse_date(raw_end)
    if start is None:
        errors.append(_("Enter the first day as a date (YYYY-MM-DD)."))
    if end is None:
        errors.append(_("Enter the last day as a date (YYYY-MM-DD)."))
    if start is not None and end is not None:
        if end < start:
            errors.append(_("The last day comes before the first."))
        if end > today:
            errors.append(_("The last day is in the future; choose today at the latest."))
        if start < EARLIEST:
            errors.append(_("Choose a first day in 2000 or later."))
        if (end - start).days + 1 > MAX_DAYS:
            errors.append(_("Choose a range of five years at most."))
    if errors or start is None or end is None:
        return default_period(today=today), errors
    return Period(start, end, CUSTOM), []
