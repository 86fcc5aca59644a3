"""SLA clock arithmetic: counting minutes in a business calendar. Pure: no ORM.

A target of N minutes is met when the ticket's work happens within N counted minutes of
its opening, where counted minutes are those inside opening hours on working days that
are not holidays (or every minute, with no calendar), leaving out the counted minutes
the ticket spent paused. So a due time is ``add(opened_at, target + paused)``: a change
of priority recomputes it from the same two numbers, and a pause that ends pushes it
out by exactly the counted time it lasted.
"""

import datetime
import zoneinfo
from dataclasses import dataclass

ONE_DAY = datetime.timedelta(days=1)
# How far ahead a due time is looked for. A target a calendar cannot reach by then
# (few opening minutes, a long target; ``SLAPolicy.clean`` refuses such pairs, but a
# calendar edited later may make one) falls due at the horizon instead.
MAX_DAYS = 3660


@dataclass(frozen=True)
class Calendar:
    timezone: str
    weekdays: frozenset[int]  # ISO: Monday 1 .. Sunday 7
    opens_at: datetime.time
    closes_at: datetime.time
    holidays: frozenset[datetime.date] = frozenset()

    def _open_span(self, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
        tz = zoneinfo.ZoneInfo(self.timezone)
        return (
            datetime.datetime.combine(day, self.opens_at, tzinfo=tz),
            datetime.datetime.combine(day, self.closes_at, tzinfo=tz),
        )

    def is_working_day(self, day: datetime.date) -> bool:
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def spans(self, start: datetime.datetime):
        """The opening spans from the day of ``start`` on (in UTC), clipped at ``start``."""
        tz = zoneinfo.ZoneInfo(self.timezone)
        day = start.astimezone(tz).date()
        for _ in range(MAX_DAYS):
            if self.is_working_day(day):
                opens, closes = self._open_span(day)
                opens, closes = opens.astimezone(datetime.UTC), closes.astimezone(datetime.UTC)
                if closes > start:
                    yield max(opens, start), closes
            day += ONE_DAY


def add_minutes(
    start: datetime.datetime, minutes: int, calendar: Calendar | None
) -> datetime.datetime:
    """The moment ``minutes`` counted minutes after ``start``."""
    if calendar is None:
        # In UTC: arithmetic on a local time would count a DST change's hour wrongly.
        return start.astimezone(datetime.UTC) + datetime.timedelta(minutes=minutes)
    left = datetime.timedelta(minutes=minutes)
    for opens, closes in calendar.spans(start):
        if closes - opens >= left:
            return opens + left
        left -= closes - opens
    return start.astimezone(datetime.UTC) + datetime.timedelta(days=MAX_DAYS)


def minutes_between(
    start: datetime.datetime, end: datetime.datetime, calendar: Calendar | None
) -> int:
    """Counted whole minutes from ``start`` to ``end`` (0 when ``end`` is not later)."""
    if end <= start:
        return 0
    if calendar is None:
        elapsed = end.astimezone(datetime.UTC) - start.astimezone(datetime.UTC)
        return int(elapsed.total_seconds() // 60)
    total = datetime.timedelta()
    for opens, closes in calendar.spans(start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return int(total.total_seconds() // 60)


@dataclass(frozen=True)
class Targets:
    first_response_minutes: int
    resolution_minutes: int
    at_risk_percent: int
    calendar: Calendar | None


@dataclass(frozen=True)
class DueTimes:
    first_response: datetime.datetime
    resolution: datetime.datetime


def due_times(opened_at: datetime.datetime, paused_minutes: int, targets: Targets) -> DueTimes:
    return DueTimes(
        first_response=add_minutes(
            opened_at, targets.first_response_minutes + paused_minutes, targets.calendar
        ),
        resolution=add_minutes(
            opened_at, targets.resolution_minutes + paused_minutes, targets.calendar
        ),
    )


def at_risk_from(
    opened_at: datetime.datetime, paused_minutes: int, target_minutes: int, targets: Targets
) -> datetime.datetime:
    """When ``at_risk_percent`` of a target has been used."""
    used = target_minutes * targets.at_risk_percent // 100
    return add_minutes(opened_at, used + paused_minutes, targets.calendar)
