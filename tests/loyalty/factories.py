"""Builders for loyalty tests: a live merchant with a configured program, its members, and
ledger state made through the services (never by writing cached balances).

``assert_ledger_consistent`` checks what DESIGN.md rule 3 promises after any scenario:
the cached balances are the sums of the entries, each ``balance_after`` is the running sum,
and the lots account for every spendable and pending point.
"""

import datetime
import itertools
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.actors import SYSTEM, Actor
from loyalty import ledger, locks
from loyalty.models import LedgerEntry, Member, PointLot, Program
from loyalty.recording import Recorded
from loyalty.services import members, orders, programs, refunds
from merchants.models import Merchant
from tests.merchants.factories import MerchantFactory

_ids = itertools.count(1)

PROGRAM_TERMS: dict[str, Any] = {
    "name": "P",
    "points_name": "Stars",
    "point_value": Decimal("0.01"),
    "base_earn_rate": Decimal("1"),
    "pending_days": 0,
}


def next_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def program_merchant(**terms: Any) -> tuple[Merchant, Program]:
    """A live USD merchant whose active program earns 1 point per dollar; ``terms``
    override the program's (e.g. ``pending_days=30``)."""
    merchant = MerchantFactory(live=True, country="US", default_currency="USD")
    program = programs.program_configure(
        merchant=merchant, actor=SYSTEM, **{**PROGRAM_TERMS, **terms}
    )
    return merchant, program


def member_make(
    merchant: Merchant, external_id: str | None = None, *, points: int = 0, **fields: Any
) -> Member:
    """A member of ``merchant`` made through ``member_upsert`` (``fields`` are its profile:
    ``country``, ``email``, ``locale``...), with ``points`` given as a staff credit; as the
    database has it once they are."""
    member, _ = members.member_upsert(
        merchant=merchant, external_id=external_id or next_id("member"), fields=fields
    )
    if points:
        points_give(member, points)
        member.refresh_from_db()
    return member


def order_post(
    merchant: Merchant,
    member: Member,
    total: str | Decimal,
    *,
    external_id: str | None = None,
    placed_at: datetime.datetime | None = None,
    currency: str = "USD",
) -> Recorded:
    return orders.order_record(
        merchant=merchant,
        data=orders.OrderInput(
            external_id=external_id or next_id("order"),
            member_external_id=member.external_id,
            total=Decimal(total),
            currency=currency,
            placed_at=placed_at or timezone.now(),
        ),
        actor=Actor.system("test"),
    )


def refund_post(
    merchant: Merchant,
    order_external_id: str,
    amount: str | Decimal,
    *,
    external_id: str | None = None,
    currency: str | None = None,
) -> Recorded:
    return refunds.refund_record(
        merchant=merchant,
        order_external_id=order_external_id,
        data=refunds.RefundInput(
            external_id=external_id or next_id("refund"), amount=Decimal(amount), currency=currency
        ),
        actor=Actor.system("test"),
    )


def points_give(member: Member, points: int, *, reason: str = "goodwill") -> LedgerEntry:
    """Spendable points at once, as a staff credit (its own lot)."""
    return ledger.points_adjust(
        member=member,
        points=points,
        reason=reason,
        at=timezone.now(),
        expires_at=None,
        actor=SYSTEM,
    )


def points_take(member: Member, points: int) -> LedgerEntry:
    """A redemption-like spend."""
    return ledger.points_spend(
        member=member,
        points=points,
        at=timezone.now(),
        source_type=LedgerEntry.Source.REDEMPTION,
        source_ref=next_id("redemption"),
        actor=Actor.system("test"),
    )


def release_due(member: Member, now: datetime.datetime | None = None) -> LedgerEntry | None:
    """What the release job does for one member: its due pending lots, under its lock."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = locks.member_lock(member.pk)
        lots = list(
            PointLot.objects.select_for_update()
            .filter(member=locked, released_at__isnull=True, remaining__gt=0, available_at__lte=now)
            .order_by("earned_at", "id")
        )
        if not lots:
            return None
        entries = ledger.release_lots([(locked, lots)], now, actor=Actor.system("test"))
        return entries[0] if entries else None


def expire(member: Member, lot_ids: list[int], now: datetime.datetime | None = None):
    """What the expiry job does for one member: the given released lots, under its lock."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = locks.member_lock(member.pk)
        lots = list(
            PointLot.objects.select_for_update()
            .filter(member=locked, pk__in=lot_ids, released_at__isnull=False)
            .order_by("earned_at", "id")
        )
        entries = ledger.expire_lots(
            [(locked, lots)], now, "test expiry", actor=Actor.system("test")
        )
        return entries[0] if entries else None


def assert_ledger_consistent(member: Member) -> Member:
    """Rule 3 holds for ``member``; returns the member as the database has it."""
    member = Member.objects.get(pk=member.pk)
    entries = list(LedgerEntry.objects.filter(member=member).order_by("id"))
    balance = pending = 0
    for entry in entries:
        balance += entry.points
        pending += entry.pending
        assert entry.balance_after == balance, (entry, entry.balance_after, balance)
        assert entry.pending_after == pending, (entry, entry.pending_after, pending)
        assert entry.merchant_id == member.merchant_id
    assert member.points_balance == balance >= 0
    assert member.pending_points == pending >= 0
    assert member.lifetime_points >= member.points_balance

    lots = list(PointLot.objects.filter(member=member))
    for lot in lots:
        assert 0 <= lot.remaining <= lot.points, lot
        assert lot.merchant_id == member.merchant_id
    assert sum(lot.remaining for lot in lots if lot.released_at is not None) == balance
    assert sum(lot.remaining for lot in lots if lot.released_at is None) == pending
    return member


def entries_sum(member: Member) -> tuple[int, int]:
    totals = LedgerEntry.objects.filter(member=member).aggregate(
        points=Sum("points"), pending=Sum("pending")
    )
    return totals["points"] or 0, totals["pending"] or 0
