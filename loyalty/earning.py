"""What an order or activity earns, with the program's rules and running campaigns: the
facts ``rules`` evaluates, read from the database, and the campaigns' budgets, caps and
coupon pools taken in the order's transaction.

The order path reads no campaign state before evaluating: it evaluates as if every
campaign's budget and cap allowed it, then takes what each campaign gives with one
conditional ``UPDATE`` of its ``CampaignSpend`` row (``points_given + n <= budget`` and
fewer awards to this member in the cap period than the cap). The member's row is locked,
so their awards cannot change meanwhile; concurrent orders of other members queue on the
spend row, and each re-checks the budget once it has the row. When an update matches no
row, what was taken is given back, the real state is read, and the order is evaluated
again with it (the campaign is then skipped, or gives what its budget has left). The
simulator reads that state first and evaluates once: the same facts, the same result.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.db import transaction
from django.db.models import Count, Exists, F, Func, IntegerField, Model, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan

from loyalty import rules
from loyalty.batch import WriteBatch
from loyalty.models import (
    Activity,
    CampaignAward,
    CampaignCoupon,
    CampaignSpend,
    CapPeriod,
    LedgerEntry,
    Member,
    Order,
    RuleAward,
    Tier,
)
from loyalty.program_config import ProgramConfig
from loyalty.segments.query import segment_ids_parse
from merchants.models import Merchant

# How often a coupon claim that lost a race for a free code tries the next one.
COUPON_ATTEMPTS = 5


@dataclass(frozen=True)
class Earned:
    evaluation: rules.Evaluation
    # Campaign id -> the coupon code handed to the member.
    coupons: dict[int, str]
    # Campaigns whose budget this order used up (ops hear of it once it commits).
    exhausted: frozenset[int] = frozenset()
    # What the evaluation knew of the member (``facts_unchanged`` compares it).
    facts: rules.MemberFacts | None = None


def _cap_bounds(
    period: str, at: datetime.datetime, merchant: Merchant
) -> tuple[datetime.datetime, datetime.datetime] | None:
    return rules.cap_period_bounds(period, at, merchant.timezone)


def _award_count(
    model: type[Model],
    key: str,
    item_id: int,
    member_id: int,
    bounds: tuple[datetime.datetime, datetime.datetime] | None,
) -> Coalesce:
    awards = model.objects.filter(**{key: item_id}, member_id=member_id)
    if bounds is not None:
        awards = awards.filter(awarded_at__gte=bounds[0], awarded_at__lt=bounds[1])
    counted = awards.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def member_facts(
    *,
    merchant: Merchant,
    member: Member | None,
    rule_rows: Iterable[rules.RuleTerms],
    at: datetime.datetime,
    campaigns: Iterable[rules.CampaignTerms] = (),
    segment_ids: frozenset[int] | None = None,
    tier: Tier | None = None,
    lock: bool = False,
) -> rules.MemberFacts:
    """The member's tier, segments and, for each capped rule (and each campaign given:
    the simulator and the order path's second look), its awards in the period around
    ``at`` and the points left in its budget. One query for all the counts; none when
    nothing is capped. ``member`` None is a hypothetical member: nothing earned yet."""
    counters = {}
    if member is not None:
        for rule in rule_rows:
            if rule.cap_period != CapPeriod.NONE:
                bounds = _cap_bounds(rule.cap_period, at, merchant)
                counters[f"rule_{rule.id}"] = _award_count(
                    RuleAward, "rule_id", rule.id, member.pk, bounds
                )
        for campaign in campaigns:
            if campaign.cap_period != "none" or campaign.effect == "coupon":
                period = "ever" if campaign.effect == "coupon" else campaign.cap_period
                bounds = _cap_bounds(period, at, merchant)
                counters[f"campaign_{campaign.id}"] = _award_count(
                    CampaignAward, "campaign_id", campaign.id, member.pk, bounds
                )
    counts: dict[str, int] = {}
    if counters:
        counts = Member.objects.filter(pk=member.pk).values(**counters).get()
    budget_left = _budget_left(campaigns, lock)
    if segment_ids is None:
        segment_ids = member_segment_ids(member)
    tier = tier if tier is not None else (member.tier if member is not None else None)
    return rules.MemberFacts(
        tier_name=tier.name if tier else None,
        tier_multiplier=tier.multiplier if tier else rules.ONE,
        awards_in_period={
            int(name.removeprefix("rule_")): n
            for name, n in counts.items()
            if name.startswith("rule_")
        },
        segment_ids=segment_ids,
        member_key=str(member.pk) if member is not None else None,
        campaign_awards_in_period={
            int(name.removeprefix("campaign_")): n
            for name, n in counts.items()
            if name.startswith("campaign_")
        },
        budget_left=budget_left,
    )


def member_segment_ids(member: Member | None) -> frozenset[int]:
    """The segments ``member`` is in now (read with the member's lock when it was)."""
    if member is None:
        return frozenset()
    if hasattr(member, "segment_list"):  # read with the member's lock
        return segment_ids_parse(member.segment_list)
    return frozenset(
        member.segment_stays.filter(left_at__isnull=True).values_list("segment_id", flat=True)
    )


def _budget_left(campaigns: Iterable[rules.CampaignTerms], lock: bool) -> dict[int, int]:
    """Campaign id -> points left in its budget (the spend rows locked, in id order, with
    ``lock``); coupon campaigns -> free codes left."""
    campaigns = list(campaigns)
    left: dict[int, int] = {}
    budgeted = {c.id: c.points_budget for c in campaigns if c.points_budget is not None}
    if budgeted:
        spends = CampaignSpend.objects.filter(campaign_id__in=budgeted).order_by("campaign_id")
        if lock:
            spends = spends.select_for_update()
        for campaign_id, given in spends.values_list("campaign_id", "points_given"):
            left[campaign_id] = max(0, budgeted[campaign_id] - given)
        for campaign_id in budgeted:
            left.setdefault(campaign_id, budgeted[campaign_id])
    coupon_ids = [c.id for c in campaigns if c.effect == "coupon"]
    if coupon_ids:
        free = dict(
            CampaignCoupon.objects.filter(campaign_id__in=coupon_ids, member__isnull=True)
            .values("campaign_id")
            .annotate(n=Count("pk"))
            .values_list("campaign_id", "n")
        )
        left.update({campaign_id: free.get(campaign_id, 0) for campaign_id in coupon_ids})
    return left


# -- taking what campaigns give ----------------------------------------------------------


def _spend_take(
    campaign: rules.CampaignTerms,
    points: int,
    member: Member,
    at: datetime.datetime,
    merchant: Merchant,
) -> bool:
    """Add ``points`` and an award to the campaign's spend, if its budget and the member's
    cap allow: one conditional UPDATE."""
    spend = CampaignSpend.objects.filter(campaign_id=campaign.id)
    if campaign.points_budget is not None:
        spend = spend.filter(points_given__lte=campaign.points_budget - points)
    if campaign.cap_period != "none":
        bounds = _cap_bounds(campaign.cap_period, at, merchant)
        count = _award_count(CampaignAward, "campaign_id", campaign.id, member.pk, bounds)
        spend = spend.filter(GreaterThan(Value(campaign.cap_count), count))
    return bool(spend.update(points_given=F("points_given") + points, awards=F("awards") + 1))


def _spend_give_back(campaign_id: int, points: int) -> None:
    CampaignSpend.objects.filter(campaign_id=campaign_id).update(
        points_given=F("points_given") - points, awards=F("awards") - 1
    )


def _coupon_claim(campaign_id: int, member: Member, at: datetime.datetime) -> str | None:
    """Hand the member a free code of the campaign's pool (once ever); None when they
    already have one or the pool is empty."""
    held = CampaignCoupon.objects.filter(campaign_id=campaign_id, member=member)
    for _ in range(COUPON_ATTEMPTS):
        free = (
            CampaignCoupon.objects.filter(campaign_id=campaign_id, member__isnull=True)
            .order_by("id")
            .values("pk")[:1]
        )
        # A concurrent claim of the same code makes this match nothing once it commits
        # (``member IS NULL`` is checked again on the row): then try the next free one.
        claimed = (
            CampaignCoupon.objects.filter(pk=Subquery(free), member__isnull=True)
            .filter(~Exists(held))
            .update(member=member, issued_at=at)
        )
        if claimed:
            return held.values_list("code", flat=True).get()
        if (
            held.exists()
            or not CampaignCoupon.objects.filter(
                campaign_id=campaign_id, member__isnull=True
            ).exists()
        ):
            return None
    return None


def _take(
    evaluation: rules.Evaluation,
    campaigns: dict[int, rules.CampaignTerms],
    member: Member,
    at: datetime.datetime,
    merchant: Merchant,
) -> tuple[dict[int, str] | None, int]:
    """Take what each campaign of ``evaluation`` gives: (the coupons handed out, 0), or
    (None, the campaign that said no) with nothing taken."""
    taken: list[tuple[int, int]] = []
    coupons: dict[int, str] = {}
    parts = sorted(evaluation.campaign_parts, key=lambda part: part.campaign_id)
    for part in parts:
        campaign = campaigns[part.campaign_id]
        if part.coupon:
            code = _coupon_claim(campaign.id, member, at)
            ok = code is not None
            if ok:
                coupons[campaign.id] = code
        else:
            points = int(part.points)
            ok = _spend_take(campaign, points, member, at, merchant)
            if ok:
                taken.append((campaign.id, points))
        if not ok:
            for campaign_id, points in taken:
                _spend_give_back(campaign_id, points)
            if coupons:
                CampaignCoupon.objects.filter(
                    campaign_id__in=coupons, member=member, code__in=coupons.values()
                ).update(member=None, issued_at=None)
            return None, campaign.id
    return coupons, 0


Event = rules.OrderFacts | rules.ActivityFacts


def evaluate(
    config: ProgramConfig, facts: rules.MemberFacts, event: Event, now: datetime.datetime
) -> rules.Evaluation:
    """The program's evaluation of an order or an activity with ``facts``."""
    if isinstance(event, rules.OrderFacts):
        return rules.evaluate_order(
            program=config.terms,
            rules=config.order_rules,
            campaigns=config.campaigns,
            member=facts,
            order=event,
            now=now,
        )
    return rules.evaluate_activity(
        program=config.terms,
        rules=config.activity_rules,
        campaigns=config.campaigns,
        member=facts,
        activity=event,
        now=now,
    )


def rule_rows_for(config: ProgramConfig, event: Event) -> tuple[rules.RuleTerms, ...]:
    return config.order_rules if isinstance(event, rules.OrderFacts) else config.activity_rules


def event_at(event: Event) -> datetime.datetime:
    return event.placed_at if isinstance(event, rules.OrderFacts) else event.occurred_at


def earn(
    *,
    merchant: Merchant,
    member: Member,
    config: ProgramConfig,
    event: Event,
    now: datetime.datetime,
) -> Earned:
    """Evaluate ``event`` and take what the campaigns give (see the module docstring);
    the member is locked by the caller."""
    rule_rows = rule_rows_for(config, event)
    at = event_at(event)
    facts = member_facts(merchant=merchant, member=member, rule_rows=rule_rows, at=at)
    evaluation = evaluate(config, facts, event, now)
    campaigns = {campaign.id: campaign for campaign in config.campaigns}
    coupons, _ = _take(evaluation, campaigns, member, at, merchant)
    if coupons is not None:
        return Earned(evaluation=_with_codes(evaluation, coupons), coupons=coupons, facts=facts)
    # A budget, cap or pool said no. Read the real state with every budgeted campaign's
    # spend row locked (in id order, as takes lock them), so that no other order can take
    # between this read and the take; evaluate with it, and take again. Only a coupon
    # pool emptied meanwhile can refuse now: that campaign is then left out.
    refused: set[int] = set()
    for _ in range(len(campaigns) + 1):
        facts = member_facts(
            merchant=merchant,
            member=member,
            rule_rows=rule_rows,
            at=at,
            campaigns=config.campaigns,
            segment_ids=facts.segment_ids,
            lock=True,
        )
        if refused:
            facts = replace(facts, budget_left={**facts.budget_left, **dict.fromkeys(refused, 0)})
        evaluation = evaluate(config, facts, event, now)
        coupons, failed = _take(evaluation, campaigns, member, at, merchant)
        if coupons is not None:
            given = {part.campaign_id: int(part.points) for part in evaluation.campaign_parts}
            exhausted = frozenset(
                campaign_id
                for campaign_id, left in facts.budget_left.items()
                if campaigns[campaign_id].points_budget is not None
                and given.get(campaign_id, 0) >= left
            )
            return Earned(
                evaluation=_with_codes(evaluation, coupons),
                coupons=coupons,
                exhausted=exhausted,
                facts=facts,
            )
        refused.add(failed)
    raise RuntimeError("a campaign refused what its locked state allowed")


def facts_unchanged(
    *, earned: Earned, merchant: Merchant, member: Member, config: ProgramConfig, event: Event
) -> bool:
    """Whether ``earned``, evaluated without campaigns on the member as read before their
    lock, is what ``earn`` gives the locked ``member`` (their tier attached) now: the
    same facts (tier, segments, awards toward each capped rule in its period) give the
    same evaluation, which is a function of them, the configuration and the event. One
    query when a rule is capped (the awards are counted again), none otherwise."""
    if config.campaigns or earned.facts is None:
        return False
    facts = member_facts(
        merchant=merchant,
        member=member,
        rule_rows=rule_rows_for(config, event),
        at=event_at(event),
    )
    return facts == earned.facts


def _with_codes(evaluation: rules.Evaluation, coupons: dict[int, str]) -> rules.Evaluation:
    if not coupons:
        return evaluation
    parts = tuple(
        replace(part, label=f"{part.label} {coupons[part.campaign_id]}")
        if part.coupon and part.campaign_id in coupons
        else part
        for part in evaluation.parts
    )
    return replace(evaluation, parts=parts)


def awards_record(
    *,
    evaluation: rules.Evaluation,
    member: Member,
    entry: LedgerEntry | None,
    at: datetime.datetime,
    batch: WriteBatch,
    order: Order | None = None,
    activity: Activity | None = None,
) -> None:
    """The rule awards (when points were earned) and the campaign awards (always: a coupon
    gives no points) of an evaluation, queued in ``batch``."""
    if entry is not None:
        batch.insert_many(
            RuleAward(rule_id=part.rule_id, member=member, entry=entry, awarded_at=at)
            for part in evaluation.parts
            if part.rule_id is not None
        )
    batch.insert_many(
        CampaignAward(
            campaign_id=part.campaign_id,
            member=member,
            entry=entry,
            order=order,
            activity=activity,
            points=int(part.points),
            awarded_at=at,
        )
        for part in evaluation.campaign_parts
    )


def on_exhausted(campaign_ids: Iterable[int]) -> None:
    """Once the order commits, pause each campaign whose budget it used up and tell ops."""
    from loyalty.tasks import campaign_budget_spent

    for campaign_id in campaign_ids:
        transaction.on_commit(
            lambda campaign_id=campaign_id: campaign_budget_spent.delay(campaign_id)
        )
