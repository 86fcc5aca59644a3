"""The release and expiry jobs run by two workers at once over the same due lots (real
threads, PostgreSQL row locks): each worker skips the members the other holds, so every
lot is released or expired exactly once and the two results add up to the lots due."""

import datetime
from collections import Counter

import pytest
from django.utils import timezone

from loyalty import jobs
from loyalty.models import ExpiryPolicy, LedgerEntry, LotMovement, Member, PointLot
from merchants.models import OutboxEvent
from tests.loyalty.factories import (
    assert_ledger_consistent,
    member_make,
    order_post,
    program_merchant,
)
from tests.loyalty.test_ledger_concurrency import errors, oks, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

Kind = LedgerEntry.Kind
MEMBERS = 24
ORDERS_EACH = 2
DAY = datetime.timedelta(days=1)


@pytest.fixture
def due_lots():
    """A merchant whose members each hold ``ORDERS_EACH`` pending lots (10 and 20 points),
    due for release after 14 days and for expiry a month after they were earned."""
    merchant, _ = program_merchant(
        pending_days=14, expiry_policy=ExpiryPolicy.LOT_AGE, expiry_months=1
    )
    for _ in range(MEMBERS):
        member = member_make(merchant)
        for n in range(ORDERS_EACH):
            order_post(merchant, member, f"{10 * (n + 1)}.00")
    assert PointLot.objects.filter(merchant=merchant).count() == MEMBERS * ORDERS_EACH
    return merchant


def _run_twice(job, merchant, now):
    # Small batches, so that the two workers meet on many batches rather than one each.
    results = run_together(2, lambda i: job(now=now, batch_size=3, merchant_id=merchant.pk))
    assert not errors(results), errors(results)
    return oks(results)


def _each_member_once(merchant, kind: str, event: str) -> None:
    entries = Counter(
        LedgerEntry.objects.filter(merchant=merchant, kind=kind).values_list("member_id", flat=True)
    )
    assert len(entries) == MEMBERS
    assert set(entries.values()) == {1}
    events = Counter(
        OutboxEvent.objects.filter(merchant=merchant, type=event).values_list("subject", flat=True)
    )
    assert len(events) == MEMBERS
    assert set(events.values()) == {1}
    for member in Member.objects.filter(merchant=merchant):
        assert_ledger_consistent(member)


def test_two_workers_releasing_at_once_release_every_lot_exactly_once(due_lots):
    merchant = due_lots
    results = _run_twice(jobs.release_pending_points, merchant, timezone.now() + 15 * DAY)

    assert sum(r.lots for r in results) == MEMBERS * ORDERS_EACH
    assert sum(r.members for r in results) == MEMBERS
    assert sum(r.points for r in results) == MEMBERS * 30
    assert not PointLot.objects.filter(merchant=merchant, released_at__isnull=True).exists()
    _each_member_once(merchant, Kind.RELEASE, "points.released")
    assert all(
        (m.points_balance, m.pending_points) == (30, 0)
        for m in Member.objects.filter(merchant=merchant)
    )


def test_two_workers_expiring_at_once_expire_every_lot_exactly_once(due_lots):
    merchant = due_lots
    later = timezone.now() + 60 * DAY
    assert (
        jobs.release_pending_points(now=later, merchant_id=merchant.pk).lots
        == MEMBERS * ORDERS_EACH
    )

    results = _run_twice(jobs.expire_points, merchant, later)

    assert sum(r.lots for r in results) == MEMBERS * ORDERS_EACH
    assert sum(r.members for r in results) == MEMBERS
    assert sum(r.points for r in results) == MEMBERS * 30
    assert not PointLot.objects.filter(merchant=merchant, remaining__gt=0).exists()
    _each_member_once(merchant, Kind.EXPIRE, "points.expired")
    # One movement per lot, taking all of it.
    movements = LotMovement.objects.filter(lot__merchant=merchant)
    assert sorted(movements.values_list("lot_id", flat=True)) == sorted(
        PointLot.objects.filter(merchant=merchant).values_list("pk", flat=True)
    )
    assert all(mv.points == -mv.lot.points for mv in movements.select_related("lot"))
    assert all(
        (m.points_balance, m.pending_points, m.lifetime_points) == (0, 0, 30)
        for m in Member.objects.filter(merchant=merchant)
    )
