"""Reads of the loyalty app used by more than one caller: each takes the merchant first
and answers only that merchant's rows (another merchant's row is a ``NotFound``)."""

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone

from core.exceptions import NotFound
from loyalty.attributes import AttributeSpec
from loyalty.exceptions import CursorExpired, NoActiveProgram
from loyalty.external_ids import is_external_id
from loyalty.models import (
    Campaign,
    CampaignCoupon,
    CampaignEffect,
    LedgerEntry,
    Member,
    MemberAttribute,
    MemberStatus,
    Order,
    PointLot,
    Program,
    Segment,
    SegmentMembership,
    Tier,
)
from loyalty.program_config import program_config
from loyalty.segments.query import current_segment_ids, segment_ids_parse
from merchants.models import Merchant, OutboxEvent, OutboxPurgeMark


def member_get(*, merchant: Merchant, external_id: str, field: str = "external_id") -> Member:
    """The merchant's member; ``NotFound`` on ``field`` (where the caller read the id:
    ``member`` in a body or a query) when there is none."""
    if not is_external_id(external_id):
        raise NotFound("No member with that external_id.", field=field)
    try:
        return Member.objects.select_related("tier").get(merchant=merchant, external_id=external_id)
    except Member.DoesNotExist:
        raise NotFound("No member with that external_id.", field=field) from None


def ledger_entry_list(*, merchant: Merchant, member: Member) -> QuerySet[LedgerEntry]:
    """The member's ledger entries, newest first."""
    return LedgerEntry.objects.filter(merchant=merchant, member=member).order_by(
        "-created_at", "-id"
    )


def order_list(*, merchant: Merchant, member: Member) -> QuerySet[Order]:
    """The member's orders, the latest placed first."""
    return Order.objects.filter(merchant=merchant, member=member).order_by("-placed_at", "-id")


def order_get(*, merchant: Merchant, external_id: str, field: str = "order") -> Order:
    """The merchant's order by the store's id for it; ``NotFound`` on ``field`` otherwise."""
    if not is_external_id(external_id):
        raise NotFound("No order with that external_id.", field=field)
    try:
        return Order.objects.get(merchant=merchant, external_id=external_id)
    except Order.DoesNotExist:
        raise NotFound("No order with that external_id.", field=field) from None


def program_active(*, merchant: Merchant) -> Program | None:
    """The merchant's active program, or None before one is configured."""
    return Program.objects.filter(merchant=merchant, is_active=True).first()


def tier_list(*, merchant: Merchant) -> QuerySet[Tier]:
    """The tiers of the merchant's active program, lowest first."""
    return Tier.objects.filter(program__merchant=merchant, program__is_active=True).order_by(
        "threshold", "pk"
    )


def member_search(
    *, merchant: Merchant, query: str = "", tier_id: int | None = None, status: str = ""
) -> QuerySet[Member]:
    """The merchant's members whose email or external id contains ``query``, in one tier
    and one status when given; the most recently active first."""
    members = Member.objects.filter(merchant=merchant).select_related("tier")
    query = (query or "").strip()
    if query:
        members = members.filter(Q(email__icontains=query) | Q(external_id__icontains=query))
    if tier_id is not None:
        members = members.filter(tier_id=tier_id)
    if status in MemberStatus.values:
        members = members.filter(status=status)
    return members.order_by("-last_activity_at", "-pk")


def attribute_schema(*, merchant: Merchant) -> dict[str, AttributeSpec]:
    """The merchant's CRM attributes by name (``loyalty.attributes``); empty: no schema."""
    return {
        row.name: AttributeSpec(
            name=row.name,
            label=row.label,
            type=row.type,
            choices=tuple(row.choices or ()),
            is_personal=row.is_personal,
        )
        for row in MemberAttribute.objects.filter(merchant=merchant)
    }


def member_segment_list(*, merchant: Merchant, member: Member) -> QuerySet[SegmentMembership]:
    """The member's current stays in the merchant's active segments, latest joined first."""
    return (
        SegmentMembership.objects.filter(
            member=member,
            segment__merchant=merchant,
            segment__is_active=True,
            left_at__isnull=True,
        )
        .select_related("segment")
        .order_by("-joined_at", "-id")
    )


def member_coupon_list(*, member: Member) -> QuerySet[CampaignCoupon]:
    """The codes handed to ``member`` (already the caller's merchant's), newest first."""
    return member.coupons.select_related("campaign").order_by("-issued_at", "-id")


def _campaigns_targeting(
    *, merchant: Merchant, member: Member, now: datetime.datetime, effect: str | None = None
) -> list[int]:
    """The ids of the merchant's campaigns (of ``effect``, when given) live now, targeting
    ``member`` (all members, or a segment they are in) and not holding them out, by
    priority. Read as the order path reads it, from the cached program configuration:
    no query unless a live campaign targets segments."""
    if member.merchant_id != merchant.pk:
        return []
    try:
        config = program_config(merchant_id=merchant.pk, version=merchant.config_version)
    except NoActiveProgram:
        return []
    live = [
        campaign
        for campaign in config.campaigns
        if (effect is None or campaign.effect == effect)
        and campaign.not_live(now, now) is None
        and not campaign.in_holdout(str(member.pk))
    ]
    segment_ids: frozenset[int] = frozenset()
    if any(campaign.segment_ids for campaign in live):
        segment_ids = frozenset(
            SegmentMembership.objects.filter(member=member, left_at__isnull=True).values_list(
                "segment_id", flat=True
            )
        )
    return [
        campaign.id
        for campaign in live
        if not campaign.segment_ids or campaign.segment_ids & segment_ids
    ]


def campaigns_unlocking_for(*, merchant: Merchant, member: Member, now=None) -> list[int]:
    """The merchant's campaigns that unlock catalog rewards for ``member`` now."""
    return _campaigns_targeting(
        merchant=merchant,
        member=member,
        now=now or timezone.now(),
        effect=CampaignEffect.UNLOCK_REWARD,
    )


def campaigns_for_member(
    *, merchant: Merchant, member: Member, now: datetime.datetime
) -> list[Campaign]:
    """The merchant's campaigns ``member`` can get now, by priority: live (running, in its
    dates, its budget not spent), targeting them and not holding them out. A member of a
    campaign's control group never sees it: being told of an offer would change what
    they do, and the experiment would measure nothing. One query for the rows (their
    description and the spent budget live only there)."""
    ids = _campaigns_targeting(merchant=merchant, member=member, now=now)
    if not ids:
        return []
    return list(
        Campaign.objects.filter(pk__in=ids, program__merchant=merchant)
        .filter(Q(spend__isnull=True) | Q(spend__exhausted_at__isnull=True))
        .order_by("priority", "pk")
    )


# -- the CRM's changes feed -----------------------------------------------------------------

# Events newer than this are not served yet: an event's id is drawn when it is written,
# and the transaction that wrote it commits a moment later, so a smaller id can become
# visible after a larger one. Every writer commits well within this.
CHANGES_SETTLE = datetime.timedelta(seconds=30)
# The event types that say a member's profile, balance, tier or segments changed.
MEMBER_CHANGE_PREFIXES = ("member.", "points.", "tier.", "segment.")


@dataclass(frozen=True)
class MemberChanges:
    members: list[Member]
    sequences: dict[int, int]  # member id -> the sequence of their last change served
    next: int


def members_changed(
    *, merchant: Merchant, since: int, limit: int, now: datetime.datetime
) -> MemberChanges:
    """The members whose profile, balance, tier or segments changed after ``since`` (an
    outbox sequence), by their latest change, oldest first, at most ``limit``; and the
    cursor to pass next. Each member comes with the segments they are in now
    (``segment_list``) and their tier. Raises ``CursorExpired`` for a cursor before
    events the retention job deleted."""
    purged = (
        OutboxPurgeMark.objects.filter(merchant=merchant)
        .values_list("purged_through", flat=True)
        .first()
    )
    if 0 < since < (purged or 0):
        days = settings.WEBHOOK_EVENT_RETENTION_DAYS
        raise CursorExpired(
            f"Changes are kept for {days} days and some after this cursor are gone: start "
            "again from a full export (the members CSV) with since=0.",
            field="since",
        )
    horizon = (
        OutboxEvent.objects.filter(merchant=merchant, created_at__lt=now - CHANGES_SETTLE)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    if horizon is None or horizon <= since:
        return MemberChanges(members=[], sequences={}, next=max(since, 0))
    kinds = Q()
    for prefix in MEMBER_CHANGE_PREFIXES:
        kinds |= Q(type__startswith=prefix)
    latest = list(
        OutboxEvent.objects.filter(kinds, merchant=merchant, id__gt=since, id__lte=horizon)
        .exclude(subject="")
        .values("subject")
        .annotate(last=Max("id"))
        .order_by("last")[:limit]
    )
    by_external_id = {
        member.external_id: member
        for member in Member.objects.filter(
            merchant=merchant, external_id__in=[row["subject"] for row in latest]
        )
        .select_related("tier")
        .annotate(segment_list=current_segment_ids())
    }
    members, sequences = [], {}
    for row in latest:
        member = by_external_id.get(row["subject"])
        if member is not None:
            members.append(member)
            sequences[member.pk] = row["last"]
    # A full page stops at its last change; a short one has seen everything up to the
    # horizon.
    cursor = latest[-1]["last"] if len(latest) == limit else horizon
    return MemberChanges(members=members, sequences=sequences, next=cursor)


# -- the nightly members export -------------------------------------------------------------


def member_export_rows(*, merchant: Merchant) -> Iterator[tuple]:
    """Every member of the merchant, by ``external_id``, with balances, tier, segments
    and consent: what the nightly CSV holds, read in chunks."""
    names = dict(Segment.objects.filter(merchant=merchant).values_list("id", "name"))
    members = (
        Member.objects.filter(merchant=merchant)
        .select_related("tier")
        .annotate(segment_list=current_segment_ids())
        .order_by("external_id")
    )
    for member in members.iterator(chunk_size=2000):
        yield (
            member.external_id,
            member.email,
            member.first_name,
            member.last_name,
            str(member.country or ""),
            member.locale,
            member.status,
            member.marketing_consent,
            member.tier.name if member.tier_id else "",
            member.points_balance,
            member.pending_points,
            member.lifetime_points,
            "; ".join(
                sorted(names[pk] for pk in segment_ids_parse(member.segment_list) if pk in names)
            ),
            member.created_at,
            member.last_activity_at,
        )


@dataclass(frozen=True)
class PointsOutlook:
    """What is coming for a member's points: pending points by the day they become
    spendable, and spendable points by the day they expire within a horizon."""

    pending: list[tuple[datetime.date, int]]  # the first days, earliest first
    expiring: list[tuple[datetime.date, int]]
    expiring_total: int  # within the horizon, all days


OUTLOOK_DAYS = 5
OUTLOOK_LOTS = 50


def _by_day(
    rows: Iterator[tuple[datetime.datetime, int]], day: Callable[[datetime.datetime], datetime.date]
) -> list[tuple[datetime.date, int]]:
    days: dict[datetime.date, int] = {}
    for moment, points in rows:
        key = day(moment)
        days[key] = days.get(key, 0) + points
    return list(days.items())[:OUTLOOK_DAYS]


def member_points_outlook(
    *,
    merchant: Merchant,
    member: Member,
    now: datetime.datetime,
    horizon: datetime.timedelta,
    day: Callable[[datetime.datetime], datetime.date],
) -> PointsOutlook:
    """The member's pending and soon-expiring points, grouped by ``day`` (the day a moment
    falls on for the reader): three indexed queries on the member's open lots."""
    lots = PointLot.objects.filter(merchant=merchant, member=member, remaining__gt=0)
    pending = (
        lots.filter(released_at__isnull=True, available_at__gt=now)
        .order_by("available_at")
        .values_list("available_at", "remaining")[:OUTLOOK_LOTS]
    )
    expiring = lots.filter(
        Q(released_at__isnull=False) | Q(available_at__lte=now),
        expires_at__gt=now,
        expires_at__lte=now + horizon,
    )
    return PointsOutlook(
        pending=_by_day(iter(pending), day),
        expiring=_by_day(
            iter(
                expiring.order_by("expires_at").values_list("expires_at", "remaining")[
                    :OUTLOOK_LOTS
                ]
            ),
            day,
        ),
        expiring_total=expiring.aggregate(points=Sum("remaining"))["points"] or 0,
    )
