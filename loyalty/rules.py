"""Earning evaluation: a pure function of (program, rules, campaigns, member, order or
activity).

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
3. each campaign live at the order's time that targets the member (its segments, not its
   control group) and whose cap and budget allow it, resolved by stacking: every
   stackable one adds; of the best-for-member ones only the one that gives most; when an
   exclusive one applies, it alone (the first by priority). A campaign's part is rounded
   to whole points on its own: that is what its budget counts;
4. the member's tier multiplier on the sum;
5. rounding, once, by the program's rule.

Whatever did not apply is named in ``Evaluation.skipped`` with why: the simulator shows it.
"""

import datetime
import hashlib
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from core.money import round_points

ZERO = Decimal(0)
ONE = Decimal(1)
EVER_BEFORE = datetime.datetime.min.replace(tzinfo=datetime.UTC)
EVER_AFTER = datetime.datetime.max.replace(tzinfo=datetime.UTC)
# Holdout draws: a member's bucket in [0, HOLDOUT_BUCKETS) for each campaign.
HOLDOUT_BUCKETS = 10_000


@dataclass(frozen=True)
class ProgramTerms:
    base_earn_rate: Decimal
    rounding: str


@dataclass(frozen=True)
class LineFilter:
    include_skus: tuple[str, ...] = ()
    exclude_skus: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()

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

    def amount(self, order: "OrderFacts") -> Decimal:
        """What of the order this filter counts: its matching lines, or the whole total."""
        if not self.filters_lines:
            return order.total
        amount = sum((line.amount for line in order.lines if self.matches_line(line)), ZERO)
        # Lines may not add up to the total (shipping, discounts): never count more.
        return min(amount, order.total)


@dataclass(frozen=True)
class RuleTerms(LineFilter):
    id: int = 0
    name: str = ""
    kind: str = ""
    priority: int = 100
    is_active: bool = True
    valid_from: datetime.datetime | None = None
    valid_until: datetime.datetime | None = None
    points_per_unit: Decimal | None = None
    multiplier: Decimal | None = None
    bonus_points: int | None = None
    activity_kind: str = ""
    min_order_total: Decimal | None = None
    store_id: int | None = None
    cap_period: str = "none"
    cap_count: int = 1
    segment_id: int | None = None

    def valid_at(self, at: datetime.datetime) -> bool:
        if not self.is_active:
            return False
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_until is None or at < self.valid_until


@dataclass(frozen=True)
class CampaignTerms(LineFilter):
    id: int = 0
    name: str = ""
    status: str = "draft"
    starts_at: datetime.datetime = EVER_BEFORE
    ends_at: datetime.datetime = EVER_AFTER
    priority: int = 100
    stacking: str = "stackable"
    effect: str = ""
    multiplier: Decimal | None = None
    points_per_unit: Decimal | None = None
    bonus_points: int | None = None
    min_order_total: Decimal | None = None
    activity_kind: str = ""
    segment_ids: frozenset[int] = frozenset()  # empty: every member
    points_budget: int | None = None
    cap_period: str = "none"
    cap_count: int = 1
    holdout_percent: Decimal = ZERO

    def not_live(self, at: datetime.datetime, now: datetime.datetime) -> str | None:
        """Why the campaign does not apply to something that happened at ``at``, judged
        ``now``; None when it does. A scheduled campaign counts as running from its start
        (the scheduler records the move a little later)."""
        running = self.status == "running" or (self.status == "scheduled" and self.starts_at <= now)
        if not running:
            return f"the campaign is {self.status}"
        if not self.starts_at <= at < self.ends_at:
            return "outside the campaign's dates"
        return None

    def in_holdout(self, member_key: str | None) -> bool:
        return member_key is not None and holdout_bucket(self.id, member_key) < (
            self.holdout_percent * HOLDOUT_BUCKETS / 100
        )


def holdout_bucket(campaign_id: int, member_key: str) -> int:
    """The member's stable draw for a campaign, uniform over [0, HOLDOUT_BUCKETS)."""
    digest = hashlib.blake2b(f"{campaign_id}:{member_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % HOLDOUT_BUCKETS


@dataclass(frozen=True)
class MemberFacts:
    tier_name: str | None = None
    tier_multiplier: Decimal = ONE
    # rule id -> how many times the rule already gave this member points in the rule's
    # current cap period (see ``cap_period_start``).
    awards_in_period: Mapping[int, int] = field(default_factory=dict)
    # The segments the member is in now.
    segment_ids: frozenset[int] = frozenset()
    # Who the member is for holdout draws (their id); None for a hypothetical member.
    member_key: str | None = None
    # Campaign id -> its awards to the member in its cap period, and -> the points left in
    # its budget. A campaign missing from these is taken to allow it: the order's
    # conditional update of the budget then has the last word.
    campaign_awards_in_period: Mapping[int, int] = field(default_factory=dict)
    budget_left: Mapping[int, int] = field(default_factory=dict)


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
    campaign_id: int | None = None
    coupon: bool = False  # a campaign's coupon: no points, a code handed out


@dataclass(frozen=True)
class Skip:
    """A rule or campaign that did not apply, and why."""

    kind: str  # "rule" or "campaign"
    id: int
    name: str
    reason: str


@dataclass(frozen=True)
class Evaluation:
    points: int
    parts: tuple[Part, ...]
    skipped: tuple[Skip, ...] = ()

    @property
    def rule_ids(self) -> tuple[int, ...]:
        return tuple(part.rule_id for part in self.parts if part.rule_id is not None)

    @property
    def campaign_parts(self) -> tuple[Part, ...]:
        return tuple(part for part in self.parts if part.campaign_id is not None)

    def explanation(self) -> list[dict]:
        return [
            {
                "rule_id": part.rule_id,
                "campaign_id": part.campaign_id,
                "label": part.label,
                "points": f"{part.points.normalize():f}",
            }
            for part in self.parts
        ]


def _capped(count: int, cap_period: str, cap_count: int) -> bool:
    return cap_period != "none" and count >= cap_count


def _finish(
    parts: list[Part], skipped: list[Skip], program: ProgramTerms, member: MemberFacts
) -> Evaluation:
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
    return Evaluation(
        points=max(0, round_points(total, program.rounding)),
        parts=tuple(parts),
        skipped=tuple(skipped),
    )


def _rule_skip(rule: RuleTerms, member: MemberFacts, at: datetime.datetime) -> str | None:
    if not rule.valid_at(at):
        return "outside the rule's dates"
    if rule.segment_id is not None and rule.segment_id not in member.segment_ids:
        return "the member is not in the rule's segment"
    if _capped(member.awards_in_period.get(rule.id, 0), rule.cap_period, rule.cap_count):
        return "the member reached the rule's cap"
    return None


def _order_rule_points(
    rule: RuleTerms, order: OrderFacts, base_rate: Decimal
) -> tuple[Decimal, str | None]:
    if rule.store_id is not None and rule.store_id != order.store_id:
        return ZERO, "the order came through another store"
    if rule.min_order_total is not None and order.total < rule.min_order_total:
        return ZERO, "the order is below the rule's minimum"
    amount = rule.amount(order)
    if amount <= 0:
        return ZERO, "no line of the order matches"
    if rule.kind == "purchase_rate" and rule.points_per_unit:
        return rule.points_per_unit * amount, None
    if rule.kind == "purchase_multiplier" and rule.multiplier and rule.multiplier > ONE:
        # Multipliers add to the base (x2 and x3 on one line give x4), so they never take
        # away what other rules gave.
        return base_rate * amount * (rule.multiplier - ONE), None
    if rule.kind == "purchase_bonus" and rule.bonus_points:
        return Decimal(rule.bonus_points), None
    return ZERO, "it gives nothing"


def _campaign_skip(
    campaign: CampaignTerms, member: MemberFacts, at: datetime.datetime, now: datetime.datetime
) -> str | None:
    if reason := campaign.not_live(at, now):
        return reason
    if campaign.segment_ids and not campaign.segment_ids & member.segment_ids:
        return "the member is not in the campaign's segments"
    if campaign.in_holdout(member.member_key):
        return "the member is in the campaign's control group"
    awards = member.campaign_awards_in_period.get(campaign.id, 0)
    left = member.budget_left.get(campaign.id, 1)
    if campaign.effect == "coupon":
        if awards:
            return "the member already has a code from this campaign"
        if left <= 0:
            return "the campaign's code pool is empty"
        return None
    if _capped(awards, campaign.cap_period, campaign.cap_count):
        return "the member reached the campaign's cap"
    if left <= 0:
        return "the campaign's budget is spent"
    return None


def _order_campaign_points(
    campaign: CampaignTerms, order: OrderFacts, base_rate: Decimal
) -> tuple[Decimal, str | None]:
    if campaign.effect in ("activity_bonus", "unlock_reward"):
        return ZERO, "it does not give points on orders"
    if campaign.min_order_total is not None and order.total < campaign.min_order_total:
        return ZERO, "the order is below the campaign's minimum"
    amount = campaign.amount(order)
    if amount <= 0:
        return ZERO, "no line of the order matches"
    if campaign.effect == "multiplier" and campaign.multiplier and campaign.multiplier > ONE:
        return base_rate * amount * (campaign.multiplier - ONE), None
    if campaign.effect == "per_unit" and campaign.points_per_unit:
        return campaign.points_per_unit * amount, None
    if campaign.effect == "order_bonus" and campaign.bonus_points:
        return Decimal(campaign.bonus_points), None
    if campaign.effect == "coupon":
        return ZERO, None
    return ZERO, "it gives nothing"


def _campaign_parts(
    offers: list[tuple[CampaignTerms, Decimal]],
    program: ProgramTerms,
    member: MemberFacts,
    skipped: list[Skip],
) -> list[Part]:
    """Stack the campaigns that would give something (in priority order)."""
    valued = []
    for campaign, raw in offers:
        points = round_points(raw, program.rounding)
        if campaign.effect != "coupon":
            left = member.budget_left.get(campaign.id)
            if left is not None:
                points = min(points, left)
            if points <= 0:
                skipped.append(_skip(campaign, "it would give no whole point"))
                continue
        valued.append((campaign, points))
    coupons = [(c, p) for c, p in valued if c.effect == "coupon"]
    giving = [(c, p) for c, p in valued if c.effect != "coupon"]
    chosen = giving
    exclusive = [(c, p) for c, p in giving if c.stacking == "exclusive"]
    if exclusive:
        winner = exclusive[0][0]
        chosen = exclusive[:1]
        reason = f"the exclusive campaign {winner.name!r} applies alone"
        skipped.extend(_skip(c, reason) for c, _ in giving if c is not winner)
    else:
        best = [(c, p) for c, p in giving if c.stacking == "best"]
        if len(best) > 1:
            winner = max(best, key=lambda pair: pair[1])[0]  # ties: the first by priority
            reason = f"{winner.name!r} gives the member more"
            skipped.extend(_skip(c, reason) for c, _ in best if c is not winner)
            chosen = [(c, p) for c, p in giving if c.stacking != "best" or c is winner]
    parts = [
        Part(rule_id=None, campaign_id=c.id, label=f"Campaign {c.name}", points=Decimal(p))
        for c, p in chosen
    ]
    parts.extend(
        Part(
            rule_id=None,
            campaign_id=c.id,
            label=f"Campaign {c.name}: coupon",
            points=ZERO,
            coupon=True,
        )
        for c, _ in coupons
    )
    return parts


def _skip(item: RuleTerms | CampaignTerms, reason: str) -> Skip:
    kind = "campaign" if isinstance(item, CampaignTerms) else "rule"
    return Skip(kind=kind, id=item.id, name=item.name, reason=reason)


def _by_priority(items: Iterable) -> list:
    return sorted(items, key=lambda item: (item.priority, item.id))


def evaluate_order(
    *,
    program: ProgramTerms,
    rules: Iterable[RuleTerms],
    member: MemberFacts,
    order: OrderFacts,
    campaigns: Iterable[CampaignTerms] = (),
    now: datetime.datetime | None = None,
) -> Evaluation:
    parts: list[Part] = []
    skipped: list[Skip] = []
    if order.total <= 0:
        return Evaluation(points=0, parts=())
    now = now or order.placed_at
    base_rate = program.base_earn_rate
    if base_rate > 0:
        parts.append(
            Part(
                rule_id=None,
                label=f"Base {base_rate.normalize():f} per unit",
                points=base_rate * order.total,
            )
        )
    for rule in _by_priority(rules):
        if rule.kind == "activity_bonus":
            continue
        reason = _rule_skip(rule, member, order.placed_at)
        points = ZERO
        if reason is None:
            points, reason = _order_rule_points(rule, order, base_rate)
        if reason is not None:
            skipped.append(_skip(rule, reason))
        elif points > 0:
            parts.append(Part(rule_id=rule.id, label=rule.name, points=points))
    offers = []
    for campaign in _by_priority(campaigns):
        if campaign.effect in ("activity_bonus", "unlock_reward"):
            continue
        reason = _campaign_skip(campaign, member, order.placed_at, now)
        points = ZERO
        if reason is None:
            points, reason = _order_campaign_points(campaign, order, base_rate)
        if reason is not None:
            skipped.append(_skip(campaign, reason))
        else:
            offers.append((campaign, points))
    parts.extend(_campaign_parts(offers, program, member, skipped))
    return _finish(parts, skipped, program, member)


def evaluate_activity(
    *,
    program: ProgramTerms,
    rules: Iterable[RuleTerms],
    member: MemberFacts,
    activity: ActivityFacts,
    campaigns: Iterable[CampaignTerms] = (),
    now: datetime.datetime | None = None,
) -> Evaluation:
    parts: list[Part] = []
    skipped: list[Skip] = []
    now = now or activity.occurred_at
    for rule in _by_priority(rules):
        if rule.kind != "activity_bonus" or rule.activity_kind != activity.kind:
            continue
        reason = _rule_skip(rule, member, activity.occurred_at)
        if reason is not None:
            skipped.append(_skip(rule, reason))
        elif rule.bonus_points:
            parts.append(Part(rule_id=rule.id, label=rule.name, points=Decimal(rule.bonus_points)))
    offers = []
    for campaign in _by_priority(campaigns):
        if campaign.effect != "activity_bonus" or campaign.activity_kind != activity.kind:
            continue
        reason = _campaign_skip(campaign, member, activity.occurred_at, now)
        if reason is not None:
            skipped.append(_skip(campaign, reason))
        else:
            offers.append((campaign, Decimal(campaign.bonus_points or 0)))
    parts.extend(_campaign_parts(offers, program, member, skipped))
    return _finish(parts, skipped, program, member)


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
