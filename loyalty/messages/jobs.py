"""The jobs that send member messages: expiry warnings once a day, the lifecycle messages
every few minutes. Each reads its source (lots and inactive members; new members, tier
changes, completed achievements, rewarded referrals) rather than hooking the write
paths, so an order costs nothing more; each works in bounded batches and leaves the
"once" to ``message_send``'s unique key, so two workers or a second run send nothing
twice.

Expiry warnings: for each threshold of ``LOYALTY_EXPIRY_EMAIL_DAYS`` (30 and 7 days by
default), a member whose points expire within it gets one email for that day and
threshold (key ``expiring:<date>:<days>``), the smallest threshold that applies: a
member first seen 5 days before gets the 7-day warning only. Lots that expire the same
day (in the merchant's time zone) are one email with their total. Under the inactivity
policy every point of the member expires ``expiry_months`` after their last activity:
the same email, for the whole balance.

Lifecycle messages look back ``LIFECYCLE_WINDOW``: a source row without its message yet
(an anti-join on the key) gets it, so a job that did not run for a day catches up and a
row older than the window is never announced late."""

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat

from core.batches import keyset_batches
from loyalty.messages.services import message_send
from loyalty.models import (
    AchievementCompletion,
    ExpiryPolicy,
    Member,
    MemberMessage,
    MemberStatus,
    MessageKind,
    MessageStatus,
    PointLot,
    Program,
    Referral,
    ReferralStatus,
    TierChange,
)
from loyalty.referrals import services as referrals

DEFAULT_BATCH = 500
LIFECYCLE_WINDOW = datetime.timedelta(days=7)
EXPIRING_PREFIX = "expiring:"


@dataclass
class MessagesResult:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    taken: int = 0  # sent or skipped before, by another run or worker

    def add(self, message: MemberMessage | None) -> None:
        if message is None:
            self.taken += 1
        elif message.status == MessageStatus.SENT:
            self.sent += 1
        elif message.status == MessageStatus.SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1

    def __str__(self) -> str:
        return (
            f"{self.sent} sent, {self.skipped} not sent (skipped), {self.failed} failed, "
            f"{self.taken} already handled"
        )


def expiring_key(expires_on: datetime.date, days: int) -> str:
    return f"{EXPIRING_PREFIX}{expires_on.isoformat()}:{days}"


def _threshold(expires_at: datetime.datetime, now: datetime.datetime) -> int | None:
    """The smallest threshold the expiry falls within, or None when it is further off."""
    due = [
        days
        for days in settings.LOYALTY_EXPIRY_EMAIL_DAYS
        if expires_at <= now + datetime.timedelta(days=days)
    ]
    return min(due) if due else None


def _send_expiring(
    member: Member,
    expires_at: datetime.datetime,
    points: int,
    now: datetime.datetime,
    sent_keys: set[str],
    result: MessagesResult,
) -> None:
    days = _threshold(expires_at, now)
    if days is None or points <= 0:
        return
    expires_on = expires_at.astimezone(ZoneInfo(str(member.merchant.timezone))).date()
    key = expiring_key(expires_on, days)
    if key in sent_keys:
        return
    result.add(
        message_send(
            member=member,
            kind=MessageKind.POINTS_EXPIRING,
            key=key,
            data={"points": points, "expires_on": expires_on},
            now=now,
        )
    )


def _expiring_keys(member_ids: list[int]) -> dict[int, set[str]]:
    keys: dict[int, set[str]] = defaultdict(set)
    for member_id, key in MemberMessage.objects.filter(
        member_id__in=member_ids, key__startswith=EXPIRING_PREFIX
    ).values_list("member_id", "key"):
        keys[member_id].add(key)
    return keys


def _member_id_batches(queryset: QuerySet, batch_size: int, field: str = "member_id"):
    last = 0
    while True:
        ids = list(
            queryset.filter(**{f"{field}__gt": last})
            .order_by(field)
            .values_list(field, flat=True)
            .distinct()[:batch_size]
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


def expiry_warnings_send(
    *, now: datetime.datetime, batch_size: int = DEFAULT_BATCH, merchant_id: int | None = None
) -> MessagesResult:
    """Daily: warn members whose points expire within a threshold, once per day and
    threshold; by lot, and by inactivity."""
    result = MessagesResult()
    horizon = now + datetime.timedelta(days=max(settings.LOYALTY_EXPIRY_EMAIL_DAYS))
    lots = PointLot.objects.filter(
        released_at__isnull=False,
        remaining__gt=0,
        expires_at__isnull=False,
        expires_at__gt=now,
        expires_at__lte=horizon,
        member__status=MemberStatus.ACTIVE,
    )
    if merchant_id is not None:
        lots = lots.filter(merchant_id=merchant_id)
    for member_ids in _member_id_batches(lots, batch_size):
        members = Member.objects.select_related("merchant").in_bulk(member_ids)
        sent = _expiring_keys(member_ids)
        groups: dict[tuple[int, datetime.date], list[Any]] = defaultdict(list)
        for member_id, expires_at, remaining in (
            lots.filter(member_id__in=member_ids)
            .order_by("member_id", "expires_at")
            .values_list("member_id", "expires_at", "remaining")
        ):
            zone = ZoneInfo(str(members[member_id].merchant.timezone))
            groups[(member_id, expires_at.astimezone(zone).date())].append((expires_at, remaining))
        for (member_id, _), day_lots in groups.items():
            first = min(expires_at for expires_at, _ in day_lots)
            total = sum(remaining for _, remaining in day_lots)
            _send_expiring(members[member_id], first, total, now, sent[member_id], result)

    programs = Program.objects.filter(is_active=True, expiry_policy=ExpiryPolicy.INACTIVITY)
    if merchant_id is not None:
        programs = programs.filter(merchant_id=merchant_id)
    for program in programs.exclude(expiry_months__isnull=True):
        months = relativedelta(months=program.expiry_months)
        # A day wider than exact on each side (months are not all as long); the exact
        # date is checked per member below.
        idle = Member.objects.filter(
            merchant_id=program.merchant_id,
            status=MemberStatus.ACTIVE,
            points_balance__gt=0,
            last_activity_at__gt=now - months - datetime.timedelta(days=1),
            last_activity_at__lte=horizon - months + datetime.timedelta(days=1),
        )
        for member_ids in _member_id_batches(idle, batch_size, field="pk"):
            sent = _expiring_keys(member_ids)
            for member in idle.select_related("merchant").filter(pk__in=member_ids):
                expires_at = member.last_activity_at + months
                if now < expires_at <= horizon:
                    _send_expiring(
                        member, expires_at, member.points_balance, now, sent[member.pk], result
                    )
    return result


# -- lifecycle messages ------------------------------------------------------------------


def _keyed(prefix: str, *parts: Any) -> Concat:
    pieces: list[Any] = [Value(prefix)]
    for index, part in enumerate(parts):
        if index:
            pieces.append(Value(":"))
        pieces.append(Cast(part, output_field=CharField()) if not isinstance(part, Value) else part)
    return Concat(*pieces, output_field=CharField())


def _messaged(merchant_ref: str, member_ref: str, key: Any) -> Exists:
    """Whether the row's member has the message ``key`` (the log's unique index, whose
    columns lead with the merchant)."""
    return Exists(
        MemberMessage.objects.filter(
            merchant_id=OuterRef(merchant_ref), member_id=OuterRef(member_ref), key=key
        ).values("pk")
    )


def _referral_link(member: Member) -> str:
    terms = referrals.referral_terms_get(merchant=member.merchant)
    if terms is None or not terms.is_enabled:
        return ""
    return referrals.referral_link(referrals.referral_code_get_or_create(member=member))


def _welcome(now, since, batch_size, merchant_id, result) -> None:
    members = (
        Member.objects.select_related("merchant")
        .filter(merchant_id=merchant_id, created_at__gte=since)
        .exclude(_messaged("merchant_id", "pk", Value(MessageKind.WELCOME)))
    )
    for batch in keyset_batches(members, batch_size):
        for member in batch:
            link = _referral_link(member) if member.status == MemberStatus.ACTIVE else ""
            result.add(
                message_send(
                    member=member,
                    kind=MessageKind.WELCOME,
                    key=MessageKind.WELCOME,
                    data={"referral_link": link},
                    now=now,
                )
            )


def _tiers(now, since, batch_size, merchant_id, result) -> None:
    changes = (
        TierChange.objects.select_related("member__merchant", "from_tier", "to_tier")
        .filter(member__merchant_id=merchant_id, created_at__gte=since)
        .exclude(from_tier__isnull=True, to_tier__isnull=True)
        .exclude(_messaged("member__merchant_id", "member_id", _keyed("tier:", OuterRef("pk"))))
    )
    for batch in keyset_batches(changes, batch_size):
        for change in batch:
            up = change.to_tier is not None and (
                change.from_tier is None or change.to_tier.threshold > change.from_tier.threshold
            )
            result.add(
                message_send(
                    member=change.member,
                    kind=MessageKind.TIER_REACHED if up else MessageKind.TIER_LOST,
                    key=f"tier:{change.pk}",
                    data={
                        "tier": change.to_tier.name if change.to_tier else "",
                        "previous_tier": change.from_tier.name if change.from_tier else "",
                    },
                    now=now,
                )
            )


def _achievements(now, since, batch_size, merchant_id, result) -> None:
    key = _keyed("achievement:", OuterRef("achievement_id"), OuterRef("period"))
    completions = (
        AchievementCompletion.objects.select_related("member__merchant", "achievement")
        .filter(merchant_id=merchant_id, completed_at__gte=since)
        .exclude(_messaged("merchant_id", "member_id", key))
    )
    for batch in keyset_batches(completions, batch_size):
        for completion in batch:
            result.add(
                message_send(
                    member=completion.member,
                    kind=MessageKind.ACHIEVEMENT_COMPLETED,
                    key=f"achievement:{completion.achievement_id}:{completion.period}",
                    data={
                        "achievement": completion.achievement.name,
                        "points": completion.points,
                    },
                    now=now,
                )
            )


def _referrals(now, since, batch_size, merchant_id, result) -> None:
    advocate_key = _keyed("referral:", OuterRef("pk"), Value("advocate"))
    friend_key = _keyed("referral:", OuterRef("pk"), Value("friend"))
    qualified = (
        Referral.objects.annotate(
            advocate_done=_messaged("merchant_id", "advocate_id", advocate_key),
            friend_done=_messaged("merchant_id", "friend_id", friend_key),
        )
        .select_related("advocate__merchant", "friend__merchant", "advocate_entry", "friend_entry")
        .filter(merchant_id=merchant_id, status=ReferralStatus.QUALIFIED, decided_at__gte=since)
        .filter(
            Q(advocate_entry__isnull=False, advocate_done=False)
            | Q(friend_entry__isnull=False, friend_done=False)
        )
    )
    for batch in keyset_batches(qualified, batch_size):
        for referral in batch:
            for side, member, entry in (
                ("advocate", referral.advocate, referral.advocate_entry),
                ("friend", referral.friend, referral.friend_entry),
            ):
                if entry is None:
                    continue
                result.add(
                    message_send(
                        member=member,
                        kind=MessageKind.REFERRAL_REWARDED,
                        key=f"referral:{referral.pk}:{side}",
                        data={"points": entry.points, "side": side},
                        now=now,
                    )
                )


LIFECYCLE = (_welcome, _tiers, _achievements, _referrals)


def lifecycle_messages_send(
    *, now: datetime.datetime, batch_size: int = DEFAULT_BATCH, merchant_id: int | None = None
) -> MessagesResult:
    """Every few minutes: the welcome, tier, achievement and referral messages of the
    last ``LIFECYCLE_WINDOW`` that were not sent yet."""
    result = MessagesResult()
    since = now - LIFECYCLE_WINDOW
    # A merchant at a time: each source's indexes lead with the merchant.
    merchant_ids = (
        [merchant_id]
        if merchant_id is not None
        else Program.objects.filter(is_active=True)
        .order_by("merchant_id")
        .values_list("merchant_id", flat=True)
    )
    for owner_id in merchant_ids:
        for source in LIFECYCLE:
            source(now, since, batch_size, owner_id, result)
    return result
