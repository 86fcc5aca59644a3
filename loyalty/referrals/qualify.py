"""The job that qualifies referrals: each pending referral's first qualifying order
noted, those whose first order was refunded voided, and those whose pending period
passed rewarded on both sides, exactly once (see ``loyalty.referrals.services``: the
claim, the locks in order, the compare-and-swap in the same transaction)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q

from core.batches import keyset_batches
from core.exceptions import InvalidTransition
from loyalty import ledger, locks
from loyalty.achievements import services as achievements
from loyalty.achievements.terms import Happening
from loyalty.models import (
    LedgerEntry,
    Member,
    MemberStatus,
    Order,
    Program,
    Referral,
    ReferralTerms,
)
from loyalty.referrals.services import QUALIFY, Status, referral_transition
from loyalty.services.programs import lot_expiry

DEFAULT_BATCH = 200


@dataclass
class QualifyResult:
    matched: int = 0
    qualified: int = 0
    voided: int = 0
    points: int = 0

    def __str__(self) -> str:
        return (
            f"{self.matched} first order(s) found, {self.qualified} referral(s) qualified, "
            f"{self.voided} void, {self.points} point(s) given"
        )


def _net_program_total(order: Order) -> Decimal:
    """What is left of the order once refunded, in the program's currency."""
    if order.total <= 0:
        return order.program_total if order.refunded_total <= 0 else Decimal(0)
    return order.program_total * (order.total - order.refunded_total) / order.total


def referral_order_refunded(*, order: Order, terms: ReferralTerms) -> bool:
    """Whether refunds took the first order out of qualifying: refunded whole, or below
    the minimum once refunds are taken off."""
    if order.refunded_total <= 0:
        return False
    return order.refunded_total >= order.total or (
        _net_program_total(order) < terms.min_order_total
    )


def _terms_by_merchant(merchant_ids: set[int]) -> dict[int, ReferralTerms]:
    rows = ReferralTerms.objects.select_related("program").filter(
        program__merchant_id__in=merchant_ids, program__is_active=True
    )
    return {terms.program.merchant_id: terms for terms in rows}


def _first_orders(batch: list[Referral], result: QualifyResult) -> None:
    """Find each pending referral's first qualifying order, recorded since it was made."""
    terms = _terms_by_merchant({referral.merchant_id for referral in batch})
    for referral in batch:
        these = terms.get(referral.merchant_id)
        if these is None:
            continue
        order = (
            Order.objects.filter(
                member_id=referral.friend_id,
                created_at__gte=referral.created_at,
                program_total__gte=these.min_order_total,
            )
            .order_by("created_at", "pk")
            .first()
        )
        if order is None:
            continue
        qualifies_at = order.placed_at + datetime.timedelta(days=these.pending_days)
        # Not a status change: the first order is noted once (the filter makes a second
        # run's update a no-op).
        result.matched += Referral.objects.filter(
            pk=referral.pk, status=Status.PENDING, first_order__isnull=True
        ).update(first_order=order, qualifies_at=qualifies_at)


def _claim(referral_id: int) -> Referral | None:
    queryset = Referral.objects.filter(pk=referral_id, status=Status.PENDING)
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True).first()
    return queryset.select_for_update().first()


def _credit(
    member: Member, points: int, program: Program, referral: Referral, now, side: str
) -> LedgerEntry | None:
    if member.status != MemberStatus.ACTIVE:
        return None  # blocked or erased since: the other side still earns
    return ledger.points_earn(
        member=member,
        member_locked=True,
        points=points,
        at=now,
        available_at=now,
        expires_at=lot_expiry(program, now),
        source_type=LedgerEntry.Source.REFERRAL,
        source_ref=f"referral-{referral.pk}",
        reason=f"referral {referral.pk} qualified ({side})",
        actor=QUALIFY,
    )


def referral_settle(
    *, referral_id: int, terms: ReferralTerms, now: datetime.datetime
) -> tuple[str, int] | None:
    """Settle one pending referral with a first order: void when refunds took the order
    out, reward both sides once it is due. Returns the new status and the points given,
    or None when there is nothing to do (not due, or another worker holds it)."""
    with transaction.atomic():
        referral = _claim(referral_id)
        if referral is None or referral.first_order_id is None:
            return None
        order = locks.order_lock(referral.first_order_id)
        if referral_order_refunded(order=order, terms=terms):
            referral_transition(
                referral=referral,
                to_status=Status.VOID,
                reason=f"the first order {order.external_id} was refunded",
                actor=QUALIFY,
                fields={"decided_at": now},
            )
            return Status.VOID, 0
        if referral.qualifies_at is None or referral.qualifies_at > now:
            return None
        # Both members in primary-key order, after the order (as a refund locks them).
        members = {
            pk: locks.member_lock(pk) for pk in sorted({referral.advocate_id, referral.friend_id})
        }
        program = terms.program
        advocate_entry = _credit(
            members[referral.advocate_id], terms.advocate_points, program, referral, now, "advocate"
        )
        friend_entry = _credit(
            members[referral.friend_id], terms.friend_points, program, referral, now, "friend"
        )
        referral_transition(
            referral=referral,
            to_status=Status.QUALIFIED,
            reason=f"the first order {order.external_id} passed {terms.pending_days} days",
            actor=QUALIFY,
            fields={
                "decided_at": now,
                "advocate_entry": advocate_entry,
                "friend_entry": friend_entry,
            },
        )
        # The advocate's achievements that count qualified referrals.
        achievements.member_event_record(
            member=members[referral.advocate_id],
            happening=Happening(trigger="referral", at=now),
            source=f"referral:{referral.pk}",
            label=f"referral {referral.pk}",
            now=now,
            actor=QUALIFY,
        )
        given = sum(entry.points for entry in (advocate_entry, friend_entry) if entry)
        return Status.QUALIFIED, given


def referrals_qualify(
    *, now: datetime.datetime, batch_size: int = DEFAULT_BATCH, merchant_id: int | None = None
) -> QualifyResult:
    """The scheduled job: note each pending referral's first qualifying order, then void
    those whose first order was refunded and reward those whose pending period passed.
    Safe to run on many workers at once and to run again."""
    result = QualifyResult()
    pending = Referral.objects.filter(status=Status.PENDING)
    if merchant_id is not None:
        pending = pending.filter(merchant_id=merchant_id)
    for batch in keyset_batches(pending.filter(first_order__isnull=True), batch_size):
        _first_orders(batch, result)
    settling = pending.filter(first_order__isnull=False).filter(
        Q(qualifies_at__lte=now) | Q(first_order__refunded_total__gt=0)
    )
    for batch in keyset_batches(settling.only("pk", "merchant_id"), batch_size):
        terms = _terms_by_merchant({referral.merchant_id for referral in batch})
        for referral in batch:
            if referral.merchant_id not in terms:
                continue  # no active program with referral terms: it waits
            try:
                settled = referral_settle(
                    referral_id=referral.pk, terms=terms[referral.merchant_id], now=now
                )
            except InvalidTransition:
                continue  # moved by another worker meanwhile; its credits rolled back
            if settled is None:
                continue
            status, points = settled
            if status == Status.QUALIFIED:
                result.qualified += 1
                result.points += points
            else:
                result.voided += 1
    return result
