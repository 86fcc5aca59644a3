"""What an achievement counts, and when: a pure function of the qualifying occurrences.

No ORM here. An occurrence is a moment and an amount (1 for "how many", the spend or the
points for "how much"). A window says which occurrences count now:

- ``overall``: every occurrence since the achievement started;
- ``rolling``: those of the last N days (a moment N days ago no longer counts);
- ``streak``: at least one occurrence in each of N consecutive calendar periods (ISO
  weeks, Monday to Sunday, or months), in the merchant's time zone. The current period
  may still be filled: a streak whose last filled period is the one before is alive
  until the current period ends (its ``deadline``); one whose last filled period is
  older is broken, and counts 0.

Periods are calendar periods of the merchant's wall clock: a week starts on Monday at
00:00 local time whatever the offset that day (a change to or from summer time makes a
week of 167 or 169 hours), and the period after December is January of the next year.
"""

import datetime
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Unit(StrEnum):
    WEEK = "week"
    MONTH = "month"


class WindowKind(StrEnum):
    OVERALL = "overall"
    ROLLING = "rolling"
    STREAK = "streak"


@dataclass(frozen=True)
class Occurrence:
    at: datetime.datetime  # aware
    amount: Decimal = Decimal(1)


@dataclass(frozen=True)
class Period:
    """A calendar period: ``start`` included, ``end`` excluded (aware, in UTC)."""

    index: int
    start: datetime.datetime
    end: datetime.datetime


@dataclass(frozen=True)
class Window:
    kind: WindowKind
    days: int | None = None  # rolling
    unit: Unit | None = None  # streak
    length: int | None = None  # streak: the periods in a row the goal asks for

    def __post_init__(self) -> None:
        if self.kind == WindowKind.ROLLING and not (self.days and self.days > 0):
            raise ValueError("a rolling window needs a positive number of days")
        if self.kind == WindowKind.STREAK and not (self.unit and self.length and self.length > 0):
            raise ValueError("a streak needs a unit and a positive length")


@dataclass(frozen=True)
class Progress:
    """Where a member stands now: ``current`` against ``goal`` (a streak's goal is its
    length in periods); for a streak, the periods filled in a row and when the current
    one ends; for a rolling window, when its oldest counted occurrence drops out."""

    current: Decimal
    goal: Decimal
    streak: int | None = None
    deadline: datetime.datetime | None = None

    @property
    def complete(self) -> bool:
        return self.current >= self.goal


def _local(at: datetime.datetime, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    if at.tzinfo is None:
        raise ValueError("occurrences and clocks are aware datetimes")
    return at.astimezone(tz)


def _start_of(local_date: datetime.date, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    """Local midnight of ``local_date`` as an aware UTC moment. Where clocks jump forward
    at midnight, midnight does not exist and this is the moment of the jump (the first
    of the day); where they fall back to midnight, the first of the two midnights."""
    return datetime.datetime.combine(local_date, datetime.time(), tzinfo=tz).astimezone(
        datetime.UTC
    )


def _first_day(index: int, unit: Unit) -> datetime.date:
    if unit == Unit.WEEK:
        return datetime.date.fromordinal(index * 7 + 1)  # ordinal 1 is a Monday
    year, month = divmod(index, 12)
    return datetime.date(year, month + 1, 1)


def period_index(at: datetime.datetime, unit: Unit, tz: zoneinfo.ZoneInfo) -> int:
    """A number for the period ``at`` falls in, consecutive periods consecutive numbers."""
    day = _local(at, tz).date()
    if unit == Unit.WEEK:
        return (day.toordinal() - 1) // 7
    return day.year * 12 + day.month - 1


def period(index: int, unit: Unit, tz: zoneinfo.ZoneInfo) -> Period:
    return Period(
        index=index,
        start=_start_of(_first_day(index, unit), tz),
        end=_start_of(_first_day(index + 1, unit), tz),
    )


def period_of(at: datetime.datetime, unit: Unit, tz: zoneinfo.ZoneInfo) -> Period:
    return period(period_index(at, unit, tz), unit, tz)


def streak_length(
    moments: Iterable[datetime.datetime],
    unit: Unit,
    tz: zoneinfo.ZoneInfo,
    now: datetime.datetime,
) -> int:
    """The periods filled in a row up to now: counted back from the current period when
    it is filled, else from the one before (still alive); 0 when neither is."""
    current = period_index(now, unit, tz)
    filled = {period_index(at, unit, tz) for at in moments if at <= now}
    last = current if current in filled else current - 1
    length = 0
    while last - length in filled:
        length += 1
    return length


def progress(
    occurrences: Iterable[Occurrence],
    window: Window,
    goal: Decimal,
    tz: zoneinfo.ZoneInfo,
    now: datetime.datetime,
    since: datetime.datetime | None = None,
) -> Progress:
    """The member's progress now, from the qualifying occurrences (those at or after
    ``since``, the achievement's start, and not after ``now``)."""
    counted = [
        occurrence
        for occurrence in occurrences
        if occurrence.at <= now and (since is None or occurrence.at >= since)
    ]
    if window.kind == WindowKind.STREAK and window.unit and window.length:
        length = streak_length((o.at for o in counted), window.unit, tz, now)
        return Progress(
            current=Decimal(length),
            goal=Decimal(window.length),
            streak=length,
            deadline=period_of(now, window.unit, tz).end,
        )
    if window.kind == WindowKind.ROLLING and window.days:
        start = now - datetime.timedelta(days=window.days)
        inside = [o for o in counted if o.at > start]
        oldest = min((o.at for o in inside), default=None)
        return Progress(
            current=sum((o.amount for o in inside), Decimal(0)),
            goal=goal,
            deadline=oldest + datetime.timedelta(days=window.days) if oldest else None,
        )
    return Progress(current=sum((o.amount for o in counted), Decimal(0)), goal=goal)
