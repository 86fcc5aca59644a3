"""What an achievement counts of what happened: a pure function of its terms and a
``Happening`` (an order, an activity, a redemption, a referral). No ORM here.

An achievement reads an order in the program's currency (its ``program_total``), so a
goal of "spend 500" means 500 of the program's currency whatever the order's own. The
amount an occurrence adds is 1 for "how many", the total for "amount spent" and the
points for "points earned"; a happening that adds nothing (an order of no points, for a
goal in points) is not an occurrence at all.
"""

import datetime
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from loyalty.achievements import windows

ONE = Decimal(1)


@dataclass(frozen=True)
class AchievementTerms:
    id: int
    name: str
    trigger: str  # AchievementTrigger
    measure: str  # AchievementMeasure
    goal: Decimal
    window: windows.Window
    repeat: str  # AchievementRepeat
    activity_kind: str = ""
    min_order_total: Decimal | None = None
    skus: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    segment_id: int | None = None
    reward_points: int = 0
    starts_at: datetime.datetime | None = None
    ends_at: datetime.datetime | None = None


@dataclass(frozen=True)
class Happening:
    trigger: str
    at: datetime.datetime
    total: Decimal = Decimal(0)  # an order's, in the program's currency
    points: int = 0
    kind: str = ""  # an activity's kind (a custom activity: its custom kind)
    skus: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()


def is_open(terms: AchievementTerms, at: datetime.datetime) -> bool:
    """Whether ``at`` falls within the achievement's active dates."""
    return (terms.starts_at is None or at >= terms.starts_at) and (
        terms.ends_at is None or at < terms.ends_at
    )


def order_qualifies(terms: AchievementTerms, total: Decimal, happening: Happening) -> bool:
    if terms.min_order_total is not None and total < terms.min_order_total:
        return False
    if terms.skus and not terms.skus & happening.skus:
        return False
    return not (terms.categories and not terms.categories & happening.categories)


def amount_counted(
    terms: AchievementTerms, happening: Happening, segment_ids: frozenset[int]
) -> Decimal | None:
    """What ``happening`` adds to the achievement, or None when it does not count."""
    if happening.trigger != terms.trigger or not is_open(terms, happening.at):
        return None
    if terms.segment_id is not None and terms.segment_id not in segment_ids:
        return None
    if terms.trigger == "activity" and happening.kind != terms.activity_kind:
        return None
    if terms.trigger == "order" and not order_qualifies(terms, happening.total, happening):
        return None
    amount = {"count": ONE, "spend": happening.total, "points": Decimal(happening.points)}[
        terms.measure
    ]
    return amount if amount > 0 else None


def completion_period(terms: AchievementTerms, at: datetime.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """The key of the period a completion at ``at`` falls in: ``ever`` for an achievement
    completed once, else the first day of its local week, month or year."""
    if terms.repeat == "once":
        return "ever"
    if terms.repeat == "year":
        return f"{at.astimezone(tz).year:04d}-01-01"
    unit = windows.Unit(terms.repeat)
    return windows.period_of(at, unit, tz).start.astimezone(tz).date().isoformat()


def counted_moments(
    terms: AchievementTerms,
    moments: list[datetime.datetime],
    tz: zoneinfo.ZoneInfo,
    now: datetime.datetime,
) -> set[datetime.datetime]:
    """Which of the open occurrences' moments the window counts now: what a completion
    consumes."""
    window = terms.window
    inside = [at for at in moments if at <= now and is_open(terms, at)]
    if window.kind == windows.WindowKind.ROLLING and window.days:
        start = now - datetime.timedelta(days=window.days)
        return {at for at in inside if at > start}
    if window.kind == windows.WindowKind.STREAK and window.unit:
        length = windows.streak_length(inside, window.unit, tz, now)
        if not length:
            return set()
        current = windows.period_index(now, window.unit, tz)
        filled = {windows.period_index(at, window.unit, tz) for at in inside}
        last = current if current in filled else current - 1
        periods = set(range(last - length + 1, last + 1))
        return {at for at in inside if windows.period_index(at, window.unit, tz) in periods}
    return set(inside)


def streak_broken_at(
    moments: list[datetime.datetime],
    unit: windows.Unit,
    tz: zoneinfo.ZoneInfo,
    now: datetime.datetime,
) -> tuple[int, windows.Period] | None:
    """A streak that ended: its length and the first period left empty, when the last
    filled period is older than the one before now's (a streak still alive or never
    started is None)."""
    if not moments:
        return None
    filled = {windows.period_index(at, unit, tz) for at in moments if at <= now}
    if not filled:
        return None
    last = max(filled)
    if last >= windows.period_index(now, unit, tz) - 1:
        return None
    length = 0
    while last - length in filled:
        length += 1
    return length, windows.period(last + 1, unit, tz)
