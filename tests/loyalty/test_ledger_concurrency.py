"""The ledger under real concurrency (PostgreSQL row locks): threads released together by a
barrier spend, refund and post the same order on one member at once. Nothing is overspent,
no entry is lost, and a duplicate request replays the winner's result."""

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from loyalty.exceptions import InsufficientPoints
from loyalty.models import LedgerEntry, LotMovement, Member, Order, PointLot, Refund
from tests.loyalty.factories import (
    assert_ledger_consistent,
    member_make,
    order_post,
    points_give,
    points_take,
    program_merchant,
    refund_post,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

Kind = LedgerEntry.Kind


def run_together(count: int, work: Callable[[int], Any]) -> list[tuple[str, Any]]:
    """Run ``work(i)`` in ``count`` threads started at once; each result is ("ok", value)
    or ("error", exception)."""
    barrier = threading.Barrier(count)
    results: list[tuple[str, Any]] = [("missing", None)] * count

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = ("ok", work(i))
        except Exception as error:
            results[i] = ("error", error)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results


def oks(results):
    return [value for status, value in results if status == "ok"]


def errors(results):
    return [value for status, value in results if status == "error"]


def wait_for_lock_waiters(count: int, timeout: float = 20) -> None:
    """Until ``count`` other sessions of this database wait on a lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            # Statistics views are a snapshot per transaction: take a fresh one each time.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                "AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] >= count:
                return
            assert time.monotonic() < deadline, "the threads never queued on the lock"
            time.sleep(0.02)


def test_concurrent_spends_never_overspend():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    for _ in range(5):
        points_give(member, 50)
    initial = 250

    results = run_together(8, lambda i: points_take(member, 60))

    spent = oks(results)
    refused = errors(results)
    assert all(isinstance(error, InsufficientPoints) for error in refused), refused
    # 250 covers four spends of 60, whatever order the locks grant them in.
    assert (len(spent), len(refused)) == (4, 4)
    member = assert_ledger_consistent(member)
    assert member.points_balance == initial - 60 * len(spent) == 10
    assert LedgerEntry.objects.filter(member=member, kind=Kind.REDEEM).count() == len(spent)
    assert sorted(entry.balance_after for entry in spent) == [10, 70, 130, 190]
    moved = LotMovement.objects.filter(entry__member=member).values_list("points", flat=True)
    assert sum(moved) == -240


def test_concurrent_refunds_and_spends_lose_no_entry():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    points_give(member, 100)
    orders = [order_post(merchant, member, "100.00").obj for _ in range(4)]
    entries_before = LedgerEntry.objects.filter(member=member).count()
    assert Member.objects.get(pk=member.pk).points_balance == 500

    def work(i: int):
        if i % 2:
            return refund_post(merchant, orders[i // 2].external_id, "100.00").obj
        return points_take(member, 90)

    results = run_together(8, work)

    refused = errors(results)
    assert all(isinstance(error, InsufficientPoints) for error in refused), refused
    refunds = [value for value in oks(results) if isinstance(value, Refund)]
    spends = [value for value in oks(results) if isinstance(value, LedgerEntry)]
    assert len(refunds) == 4
    assert len(spends) + len(refused) == 4
    member = assert_ledger_consistent(member)
    assert LedgerEntry.objects.filter(member=member).count() == entries_before + 4 + len(spends)
    assert sum(r.points_reversed + r.shortfall for r in refunds) == 400
    assert member.points_balance == 500 - 90 * len(spends) - sum(r.points_reversed for r in refunds)
    # Lifetime keeps the points a refund could not take back (they were spent).
    assert member.lifetime_points == 100 + sum(r.shortfall for r in refunds)
    assert member.has_refund_shortfall == any(r.shortfall for r in refunds)
    for order in orders:
        order.refresh_from_db()
        assert (order.points_reversed, order.refunded_total) == (100, Decimal("100.00"))


@pytest.mark.parametrize("member_exists", [True, False])
def test_the_same_order_posted_concurrently_is_recorded_once(member_exists):
    merchant, _ = program_merchant()
    member = member_make(merchant) if member_exists else Member(external_id="newcomer")
    placed_at = timezone.now()

    results = run_together(
        6,
        lambda i: order_post(
            merchant, member, "42.00", external_id="dup-order", placed_at=placed_at
        ),
    )

    assert not errors(results), errors(results)
    recorded = oks(results)
    assert len({r.obj.pk for r in recorded}) == 1
    assert sorted(r.replayed for r in recorded) == [False] + [True] * 5
    assert Order.objects.filter(merchant=merchant).count() == 1
    member = Member.objects.get(merchant=merchant, external_id=member.external_id)
    assert Member.objects.filter(merchant=merchant).count() == 1
    assert LedgerEntry.objects.filter(member=member, kind=Kind.EARN).count() == 1
    assert PointLot.objects.filter(member=member).count() == 1
    assert assert_ledger_consistent(member).points_balance == 42


def _post_same_refund_while_the_order_is_locked(amount: str, threads: int = 6):
    """Every thread passes the "already recorded?" check before any of them commits: the
    test holds the order's row lock until all of them queue on it."""
    merchant, _ = program_merchant()
    member = member_make(merchant)
    order = order_post(merchant, member, "100.00").obj
    results: list = []
    runner = threading.Thread(
        target=lambda: results.extend(
            run_together(
                threads,
                lambda i: refund_post(merchant, order.external_id, amount, external_id="dup-r"),
            )
        )
    )
    with transaction.atomic():
        Order.objects.select_for_update().get(pk=order.pk)
        runner.start()
        wait_for_lock_waiters(threads)
    runner.join(timeout=60)
    assert not runner.is_alive()
    return order, member, results


def test_the_same_partial_refund_posted_concurrently_is_recorded_once():
    order, member, results = _post_same_refund_while_the_order_is_locked("30.00")

    assert not errors(results), errors(results)
    recorded = oks(results)
    assert len({r.obj.pk for r in recorded}) == 1
    assert sorted(r.replayed for r in recorded) == [False] + [True] * 5
    assert Refund.objects.filter(order=order).count() == 1
    assert LedgerEntry.objects.filter(member=member, kind=Kind.REVERSE).count() == 1
    assert assert_ledger_consistent(member).points_balance == 70


def test_the_same_full_refund_posted_concurrently_is_replayed_not_refused():
    order, member, results = _post_same_refund_while_the_order_is_locked("100.00")

    assert not errors(results), errors(results)
    recorded = oks(results)
    assert sorted(r.replayed for r in recorded) == [False] + [True] * 5
    assert Refund.objects.filter(order=order).count() == 1
    assert assert_ledger_consistent(member).points_balance == 0
