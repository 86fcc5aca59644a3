"""What the loyalty core tells the merchant's own systems (outbound webhooks): the payloads
of its events, written through ``merchants.services.outbox.event_publish`` in the transaction of
the change, and the daily announcement of points about to expire.

Every member event has the member's ``external_id`` as its subject and carries the
member's tier and balances as they are after the change, so a CRM can keep its copy of a
member from the events alone. Times are ISO 8601 strings, amounts strings, points
integers. Events are written under the member's row lock, so their outbox ids (the
``sequence`` a receiver sees) follow the order of the member's changes.
"""

import datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat

from core.actors import Actor
from core.batches import value_batches
from loyalty.batch import WriteBatch
from loyalty.locks import members_lock_batch
from loyalty.models import (
    ExpiryPolicy,
    LedgerEntry,
    Member,
    PointLot,
    Program,
    Tier,
    TierChange,
)
from merchants.models import OutboxEvent, WebhookEventType
from merchants.services.outbox import EventInput, event_publish, events_publish_once

EventType = WebhookEventType
ANNOUNCER = Actor.system("announce_expiring_points")
EXPIRING_KEY = "points.expiring:lot:"
INACTIVE_KEY = "points.expiring:inactive:"

PROFILE_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "country",
    "locale",
    "birthday",
    "marketing_consent",
    "attributes",
)


def _iso(value: datetime.datetime | datetime.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _tier(member: Member) -> Tier | None:
    """The member's tier: the one attached (the order path attaches it without a query),
    or read."""
    if member.tier_id is None:
        return None
    if Member.tier.is_cached(member) and member.tier is not None:
        return member.tier
    return Tier.objects.filter(pk=member.tier_id).first()


def tier_data(tier: Tier | None) -> dict[str, Any] | None:
    return {"id": tier.pk, "name": tier.name} if tier is not None else None


def member_summary(member: Member) -> dict[str, Any]:
    """The member as every member event shows them: who, tier, balances."""
    return {
        "external_id": member.external_id,
        "tier": tier_data(_tier(member)),
        "points_balance": member.points_balance,
        "pending_points": member.pending_points,
        "lifetime_points": member.lifetime_points,
    }


def _profile(member: Member) -> dict[str, Any]:
    return {
        "email": member.email,
        "phone": member.phone,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "country": str(member.country or ""),
        "locale": member.locale,
        "birthday": _iso(member.birthday),
        "marketing_consent": member.marketing_consent,
        "attributes": member.attributes or {},
        "status": member.status,
    }


def member_created_publish(*, member: Member, batch: WriteBatch | None = None) -> None:
    event_publish(
        merchant_id=member.merchant_id,
        type=EventType.MEMBER_CREATED,
        subject=member.external_id,
        payload={
            "member": {**member_summary(member), **_profile(member)},
            "created_at": _iso(member.created_at),
        },
        occurred_at=member.created_at,
        batch=batch,
    )


def member_updated_publish(*, member: Member, changed: list[str]) -> None:
    event_publish(
        merchant_id=member.merchant_id,
        type=EventType.MEMBER_UPDATED,
        subject=member.external_id,
        payload={"member": {**member_summary(member), **_profile(member)}, "changed": changed},
        occurred_at=member.updated_at,
    )


def points_publish(
    *,
    type: str,
    member: Member,
    entry: LedgerEntry,
    lot: PointLot | None = None,
    batch=None,
) -> None:
    """A ``points.*`` event for ``entry``, just written to the locked ``member`` (or
    queued in ``batch`` beside it)."""
    # What moved: a release moves points from pending to spendable (its two parts cancel
    # out); every other entry adds or takes its points and pending points.
    released = entry.kind == LedgerEntry.Kind.RELEASE
    points = entry.points if released else entry.points + entry.pending
    payload: dict[str, Any] = {
        "member": member_summary(member),
        "points": abs(points),
        "pending": entry.pending != 0 and not released,
        "balance_after": entry.balance_after,
        "pending_after": entry.pending_after,
        "kind": entry.kind,
        "source": {"type": entry.source_type, "ref": entry.source_ref},
        "reason": entry.reason,
    }
    if entry.kind == LedgerEntry.Kind.REVERSE:
        # Points the member had already spent, which a refund could not take back.
        payload["shortfall"] = entry.shortfall
    if lot is not None:
        payload["available_at"] = _iso(lot.available_at)
        payload["expires_at"] = _iso(lot.expires_at)
    event_publish(
        merchant_id=member.merchant_id,
        type=type,
        subject=member.external_id,
        payload=payload,
        occurred_at=entry.created_at,
        batch=batch,
    )


def tiers_attach(members: list[Member]) -> None:
    """Attach the tiers of a job's members in one query (none when no one has a tier)."""
    missing = {m.tier_id for m in members if m.tier_id and not Member.tier.is_cached(m)}
    if not missing:
        return
    tiers = {tier.pk: tier for tier in Tier.objects.filter(pk__in=missing)}
    for member in members:
        if member.tier_id in tiers:
            member.tier = tiers[member.tier_id]


def tier_changed_publish(
    *, member: Member, change: TierChange, at: datetime.datetime, batch=None
) -> None:
    from_tier, to_tier = change.from_tier, change.to_tier
    up = to_tier is not None and (from_tier is None or to_tier.threshold > from_tier.threshold)
    event_publish(
        merchant_id=member.merchant_id,
        type=EventType.TIER_CHANGED,
        subject=member.external_id,
        payload={
            "member": member_summary(member),
            "from_tier": tier_data(from_tier),
            "to_tier": tier_data(to_tier),
            "direction": "up" if up else "down",
            "qualifying_value": str(change.qualifying_value),
            "reason": change.reason,
        },
        occurred_at=at,
        batch=batch,
    )


# -- points about to expire -----------------------------------------------------------------


def announce_expiring_points(
    *, now: datetime.datetime, batch_size: int = 500, merchant_id: int | None = None
) -> int:
    """Daily: a ``points.expiring`` event for each lot that expires within
    ``LOYALTY_EXPIRY_WARNING_DAYS``, once per lot (the outbox's ``dedupe_key``), in
    batches of members locked like the other jobs'. Returns how many lots."""
    horizon = now + datetime.timedelta(days=settings.LOYALTY_EXPIRY_WARNING_DAYS)
    announced = OutboxEvent.objects.filter(
        merchant_id=OuterRef("merchant_id"),
        dedupe_key=Concat(Value(EXPIRING_KEY), Cast(OuterRef("pk"), output_field=CharField())),
    )
    lots = PointLot.objects.filter(
        remaining__gt=0, expires_at__isnull=False, expires_at__gt=now, expires_at__lte=horizon
    ).exclude(Exists(announced))
    if merchant_id is not None:
        lots = lots.filter(merchant_id=merchant_id)
    total = 0
    for member_ids in value_batches(lots, "member_id", batch_size):
        with transaction.atomic():
            members = members_lock_batch(member_ids)
            tiers_attach(members)
            by_merchant: dict[int, list[EventInput]] = {}
            due = lots.filter(member__in=members).order_by("member_id", "expires_at", "pk")
            by_id = {member.pk: member for member in members}
            for lot in due:
                member = by_id[lot.member_id]
                by_merchant.setdefault(member.merchant_id, []).append(
                    EventInput(
                        type=EventType.POINTS_EXPIRING,
                        subject=member.external_id,
                        payload={
                            "member": member_summary(member),
                            "points": lot.remaining,
                            "expires_at": _iso(lot.expires_at),
                            "earned_at": _iso(lot.earned_at),
                        },
                        occurred_at=now,
                        dedupe_key=f"{EXPIRING_KEY}{lot.pk}",
                    )
                )
            for owner_id, events in by_merchant.items():
                total += events_publish_once(merchant_id=owner_id, events=events)
    return total + _announce_inactive(
        now=now, horizon=horizon, batch_size=batch_size, merchant_id=merchant_id
    )


def _announce_inactive(
    *, now: datetime.datetime, horizon: datetime.datetime, batch_size: int, merchant_id: int | None
) -> int:
    """The inactivity policy's ``points.expiring``: every point of a member expires
    ``expiry_months`` after their last activity, so one event per member and expiry date
    (an order moves the date, and the new date is announced when it comes near)."""
    total = 0
    programs = Program.objects.filter(
        is_active=True, expiry_policy=ExpiryPolicy.INACTIVITY, expiry_months__isnull=False
    )
    if merchant_id is not None:
        programs = programs.filter(merchant_id=merchant_id)
    for program in programs:
        months = relativedelta(months=program.expiry_months)
        day = datetime.timedelta(days=1)  # months differ in length: checked exactly below
        idle = Member.objects.filter(
            merchant_id=program.merchant_id,
            points_balance__gt=0,
            last_activity_at__gt=now - months - day,
            last_activity_at__lte=horizon - months + day,
        )
        for ids in value_batches(idle, "pk", batch_size):
            with transaction.atomic():
                members = members_lock_batch(ids)
                tiers_attach(members)
                events = []
                for member in members:
                    if member.last_activity_at is None or member.points_balance <= 0:
                        continue
                    expires_at = member.last_activity_at + months
                    if not now < expires_at <= horizon:
                        continue
                    events.append(
                        EventInput(
                            type=EventType.POINTS_EXPIRING,
                            subject=member.external_id,
                            payload={
                                "member": member_summary(member),
                                "points": member.points_balance,
                                "expires_at": _iso(expires_at),
                                "last_activity_at": _iso(member.last_activity_at),
                            },
                            occurred_at=now,
                            dedupe_key=f"{INACTIVE_KEY}{member.pk}:{expires_at.date()}",
                        )
                    )
                announced = set(
                    OutboxEvent.objects.filter(
                        merchant_id=program.merchant_id,
                        dedupe_key__in=[event.dedupe_key for event in events],
                    ).values_list("dedupe_key", flat=True)
                )
                events = [event for event in events if event.dedupe_key not in announced]
                if events:
                    total += events_publish_once(merchant_id=program.merchant_id, events=events)
    return total
