"""Earning-rule evaluation: a pure function of (program, rules, member, order or activity).

No ORM here. The services turn rows into these frozen facts, call ``evaluate_order`` or
``evaluate_activity``, and store the result; so a rule edited later never changes points
already earned, and every result carries the explanation of where its points came from.

How an order earns, in program currency:
1. base: ``base_earn_rate`` * order total;
2. each active rule valid at the order's time, by priority: ``purchase_rate`` adds points per
   unit on its matching lines (or the whole total when it filters no line),
   ``purchase_multiplier`` multiplies the base points of its matching lines,
   ``purchase_bonus`` adds a fixed bonus; a rule applies only when the order meets its
   minimum total and channel, and the member has not hit its cap for the period;
3. the member's tier multiplier on the sum;
4. rounding, once, by the program's rule.
"""

import datetime
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from core.money import round_points

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True)
class ProgramTerms:
    base_earn_rate: Decimal
    rounding: str


@dataclass(frozen=True)
class RuleTerms:
    id: int
    name: str
    kind: str
    priority: int = 100
    is_active: bool = True
    valid_from: datetime.datetime | None = None
    valid_until: datetime.datetime | None = None
    points_per_unit: Decimal | None = None
    multiplier: Decimal | None = None
    bonus_points: int | None = None
    activity_kind: str = ""
    min_order_total: Decimal | None = None
    include_skus: tuple[str, ...] = ()
    exclude_skus: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    store_id: int | None = None
    cap_period: str = "none"
    cap_count: int = 1

    @property
    def filters_lines(self) -> bool:
        return bool(
            self.include_skus
            or self.exclude_skus
            or self.include_categories
            or self.exclude_categories
        )

    def matches_line(self, line: "Line") -> bool:
        if self.include_skus and line.sku not in self.include_skus:
            return False
        if self.include_categories and line.category not in self.include_categories:
            return False
        return line.sku not in self.exclude_skus and line.category not in self.exclude_categories

    def valid_at(self, at: datetime.datetime) -> bool:
        if not self.is_active:
            return False
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_until is None or at < self.valid_until


@dataclass(frozen=True)
class MemberFacts:
    tier_name: str | None = None
    tier_multiplier: Decimal = ONE
    # rule id -> how many times the rule already gave this member points in the rule's
    # current cap period (see ``cap_period_start``).
    awards_in_period: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Line:
    sku: str
    category: str
    quantity: int
    unit_price: Decimal  # in program currency

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class OrderFacts:
    total: Decimal  # in program currency
    placed_at: datetime.datetime
    lines: tuple[Line, ...] = ()
    store_id: int | None = None


@dataclass(frozen=True)
class ActivityFacts:
    kind: str  # the activity kind, or a custom kind's own name
    occurred_at: datetime.datetime


@dataclass(frozen=True)
class Part:
    rule_id: int | None
    label: str
    points: Decimal


@dataclass(frozen=True)
class Evaluation:
    points: int
    parts: tuple[Part, ...]

    @property
    def rule_ids(self) -> tuple[int, ...]:
        return tuple(part.rule_id for part in self.parts if part.rule_id is not None)

    def explanation(self) -> list[dict]:
        return [
            {"rule_id": part.rule_id, "label": part.label, "points": f"{part.points.normalize():f}"}
            for part in self.parts
        ]


def _capped(rule: RuleTerms, member: MemberFacts) -> bool:
    if rule.cap_period == "none":
        return False
    return member.awards_in_period.get(rule.id, 0) >= rule.cap_count


def _finish(parts: list[Part], program: ProgramTerms, member: MemberFacts) -> Evaluation:
    subtotal = sum((part.points for part in parts), ZERO)
    if subtotal > 0 and member.tier_multiplier != ONE:
        parts.append(
            Part(
                rule_id=None,
                label=f"Tier {member.tier_name or ''} x{member.tier_multiplier.normalize():f}",
                points=subtotal * (member.tier_multiplier - ONE),
            )
        )
    total = sum((part.points for part in parts), ZERO)
    return Evaluation(points=max(0, round_points(total, program.rounding)), parts=tuple(parts))


def evaluate_order(
    *,
    program: ProgramTerms,
    rules: Iterable[RuleTerms],
    member: MemberFacts,
    order: OrderFacts,
) -> Evaluation:
    parts: list[Part] = []
    if order.total <= 0:
        return Evaluation(points=0, parts=())
    base_rate = program.base_earn_rate
    if base_rate > 0:
        parts.append(
            Part(
                rule_id=None,
                label=f"Base {base_rate.normalize():f} per unit",
                points=base_rate * order.total,
            )
        )
    for rule in sorted(rules, key=lambda r: (r.priority, r.id)):
        if rule.kind == "activity_bonus" or not rule.valid_at(order.placed_at):
            continue
        if rule.store_id is not None and rule.store_id != order.store_id:
            continue
        if rule.min_order_total is not None and order.total < rule.min_order_total:
            continue
        if _capped(rule, member):
            continue
        if rule.filters_lines:
            amount = sum((line.amount for line in order.lines if rule.matches_line(line)), ZERO)
            # Lines may not add up to the total (shipping, discounts): never count more.
            amount = min(amount, order.total)
        else:
            amount = order.total
        if amount <= 0:
            continue
        if rule.kind == "purchase_rate" and rule.points_per_unit:
            points = rule.points_per_unit * amount
        elif rule.kind == "purchase_multiplier" and rule.multiplier and rule.multiplier > ONE:
            # Multipliers add to the base (x2 and x3 on one line give x4), so they never
            # take away what other rules gave.
            points = base_rate * amount * (rule.multiplier - ONE)
        elif rule.kind == "purchase_bonus" and rule.bonus_points:
            points = Decimal(rule.bonus_points)
        else:
            continue
        if points > 0:
            parts.append(Part(rule_id=rule.id, label=rule.name, points=points))
    return _finish(parts, program, member)


def evaluate_activity(
    *,
    program: ProgramTerms,
    rules: Iterable[RuleTerms],
    member: MemberFacts,
    activity: ActivityFacts,
) -> Evaluation:
    parts = [
        Part(rule_id=rule.id, label=rule.name, points=Decimal(rule.bonus_points or 0))
        for rule in sorted(rules, key=lambda r: (r.priority, r.id))
        if rule.kind == "activity_bonus"
        and rule.activity_kind == activity.kind
        and rule.valid_at(activity.occurred_at)
        and not _capped(rule, member)
        and rule.bonus_points
    ]
    return _finish(parts, program, member)


def _local_period_start(
    period: str, at: datetime.datetime, timezone: zoneinfo.ZoneInfo
) -> datetime.datetime | None:
    local = at.astimezone(timezone)
    # fold=0: where clocks fall back at midnight, the period starts at the first midnight.
    midnight = {"hour": 0, "minute": 0, "second": 0, "microsecond": 0, "fold": 0}
    if period == "day":
        return local.replace(**midnight)
    if period == "month":
        return local.replace(day=1, **midnight)
    if period == "year":
        return local.replace(month=1, day=1, **midnight)
    return None


_PERIOD_LENGTH = {
    "day": relativedelta(days=1),
    "month": relativedelta(months=1),
    "year": relativedelta(years=1),
}


def cap_period_start(
    period: str, at: datetime.datetime, timezone: zoneinfo.ZoneInfo
) -> datetime.datetime | None:
    """When the cap period containing ``at`` began, in the merchant's time zone (a day,
    month or year is the merchant's local one); None for "ever" (count every award).
    Returned in UTC: an ambiguous local midnight never compares equal across zones."""
    start = _local_period_start(period, at, timezone)
    return None if start is None else start.astimezone(datetime.UTC)


def cap_period_bounds(
    period: str, at: datetime.datetime, timezone: zoneinfo.ZoneInfo
) -> tuple[datetime.datetime, datetime.datetime] | None:
    """[start, end) of the cap period containing ``at`` in UTC; None for "ever"."""
    start = _local_period_start(period, at, timezone)
    if start is None:
        return None
    end = (start.replace(tzinfo=None) + _PERIOD_LENGTH[period]).replace(tzinfo=timezone, fold=0)
    return start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)
