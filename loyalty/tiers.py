"""Tier qualification: points earned, or amount spent, within the program's rolling window.

A member moves up as soon as an order lifts them over a threshold; moving down only
happens at the scheduled recomputation. Every change is a ``TierChange`` row and a
``tier.changed`` event for the merchant's systems, written together (one statement on
PostgreSQL)."""

import datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import Coalesce

from core.actors import Actor, actor_fields, actor_label
from loyalty import events
from loyalty.batch import WriteBatch
from loyalty.models import LedgerEntry, Member, Order, Program, Tier, TierBasis, TierChange

ZERO = Decimal(0)


def window_start(program: Program, at: datetime.datetime) -> datetime.datetime:
    return at - relativedelta(months=program.tier_window_months)


def qualifying_values(
    *, program: Program, member_ids: list[int], at: datetime.datetime
) -> dict[int, Decimal]:
    """Each member's qualifying value in the window ending at ``at``, in one query."""
    since = window_start(program, at)
    if program.tier_basis == TierBasis.SPEND:
        # What was spent, less what was refunded, in the program's currency.
        kept = ExpressionWrapper(
            F("program_total") - F("program_total") * F("refunded_total") / F("total"),
            output_field=DecimalField(max_digits=20, decimal_places=4),
        )
        rows = (
            Order.objects.filter(member_id__in=member_ids, placed_at__gte=since, total__gt=0)
            .values("member_id")
            .annotate(value=Sum(kept))
        )
    else:
        rows = (
            LedgerEntry.objects.filter(
                member_id__in=member_ids,
                created_at__gte=since,
                kind__in=[LedgerEntry.Kind.EARN, LedgerEntry.Kind.REVERSE],
            )
            .values("member_id")
            .annotate(value=Coalesce(Sum(F("points") + F("pending")), 0))
        )
    values = {member_id: ZERO for member_id in member_ids}
    values.update({row["member_id"]: Decimal(row["value"] or 0) for row in rows})
    return values


def tier_for(tiers: list[Tier], value: Decimal) -> Tier | None:
    """The highest tier whose threshold ``value`` reaches (tiers sorted by threshold)."""
    reached = None
    for tier in tiers:
        if value >= tier.threshold:
            reached = tier
    return reached


def program_tiers(program: Program) -> list[Tier]:
    return list(program.tiers.order_by("threshold"))


def _move(
    member: Member,
    tier: Tier | None,
    value: Decimal,
    reason: str,
    batch: WriteBatch | None = None,
    *,
    at: datetime.datetime,
    actor: Actor,
) -> TierChange:
    """Record the change and put the member in ``tier``, with its event: at once, or
    queued in ``batch`` (the caller executes it)."""
    change = TierChange(
        member=member,
        from_tier=member.tier,
        to_tier=tier,
        reason=reason,
        qualifying_value=value,
        **actor_fields(actor),
        actor_label=actor_label(actor),
    )
    member.tier = tier
    own_batch = batch is None
    if batch is None:
        batch = WriteBatch()
    batch.insert(change)
    batch.update(member, ["tier"])
    events.tier_changed_publish(member=member, change=change, at=at, batch=batch)
    if own_batch:
        batch.execute()
    return change


def member_tier_upgrade(
    *,
    member: Member,
    program: Program,
    at: datetime.datetime,
    reason: str,
    tiers: tuple[Tier, ...] | list[Tier] | None = None,
    actor: Actor,
) -> TierChange | None:
    """Move the member up if they now reach a higher tier; never down. ``tiers``: the
    program's tiers by threshold, when the caller has them already."""
    changes = members_tier_upgrade(
        members=[(member, reason)], program=program, at=at, tiers=tiers, actor=actor
    )
    return changes[0] if changes else None


def members_tier_upgrade(
    *,
    members: list[tuple[Member, str]],
    program: Program,
    at: datetime.datetime,
    tiers: tuple[Tier, ...] | list[Tier] | None = None,
    actor: Actor,
) -> list[TierChange]:
    """``member_tier_upgrade`` for several members (locked, each once, with the reason of
    their move): one query for the qualifying values of those who could move, one
    statement for the moves."""
    if not program.tiers_enabled:
        return []
    tiers = program_tiers(program) if tiers is None else list(tiers)
    candidates = []
    for member, reason in members:
        current = member.tier.threshold if member.tier_id else None
        higher = [tier for tier in tiers if current is None or tier.threshold > current]
        if not higher:
            continue
        if program.tier_basis == TierBasis.POINTS and member.lifetime_points < higher[0].threshold:
            # Points earned in the window never exceed lifetime points: nothing to reach yet.
            continue
        candidates.append((member, reason, current))
    if not candidates:
        return []
    values = qualifying_values(
        program=program, member_ids=[member.pk for member, _, _ in candidates], at=at
    )
    batch = WriteBatch()
    changes = []
    for member, reason, current in candidates:
        target = tier_for(tiers, values[member.pk])
        if target is None or (current is not None and target.threshold <= current):
            continue
        changes.append(
            _move(member, target, values[member.pk], reason, batch=batch, at=at, actor=actor)
        )
    batch.execute()
    return changes


def tiers_recompute(
    *, program: Program, members: list[Member], at: datetime.datetime, actor: Actor
) -> list[TierChange]:
    """Put each member (locked by the caller) in the tier their window gives, up or down."""
    tiers = program_tiers(program) if program.tiers_enabled else []
    values = qualifying_values(program=program, member_ids=[m.pk for m in members], at=at)
    tiers_by_id = {tier.pk: tier for tier in tiers}
    batch = WriteBatch()  # set-based: every change of the batch in one statement
    changes = []
    for member in members:
        target = tier_for(tiers, values[member.pk])
        if (target.pk if target else None) != member.tier_id:
            if member.tier_id is not None and member.tier_id in tiers_by_id:
                member.tier = tiers_by_id[member.tier_id]  # no query for from_tier
            changes.append(
                _move(
                    member,
                    target,
                    values[member.pk],
                    "scheduled recomputation",
                    batch=batch,
                    at=at,
                    actor=actor,
                )
            )
    batch.execute()
    return changes
