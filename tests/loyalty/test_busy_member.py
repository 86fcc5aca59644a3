"""One busy member: an order is evaluated and built on the member as last committed, and
written on the balances the member's lock gives it: in one statement that waits for the
lock itself (the common order), or after waiting for it (a capped rule, a tier to reach);
when what it earns could have changed meanwhile (a tier reached, a capped rule's award
taken, the program changed, the member blocked) it is evaluated again under the lock.
Whatever the interleaving, every order earns exactly what it would have earned one after
the other and the running balances, tiers, caps, events and the audit hold."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.actors import SYSTEM
from loyalty import locks
from loyalty.audit import ledger_audit
from loyalty.exceptions import MemberNotActive
from loyalty.models import (
    CapPeriod,
    EarningRule,
    LedgerEntry,
    Member,
    MemberStatus,
    Order,
    RuleAward,
    RuleKind,
    Tier,
    TierBasis,
    TierChange,
)
from loyalty.services.programs import program_configure
from loyalty.tiers import tier_for
from merchants.models import OutboxEvent
from tests.loyalty.factories import (
    assert_ledger_consistent,
    member_make,
    order_post,
    points_give,
    program_merchant,
)
from tests.loyalty.test_ledger_concurrency import errors, oks, run_together, wait_for_lock_waiters

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _while_held(member: Member, orders: list, meanwhile) -> list:
    """Hold ``member``'s lock; post each of ``orders`` (callables) in a thread of its own;
    once all of them wait for the lock (so each read the member before ``meanwhile``),
    run ``meanwhile`` in the holding transaction and commit. The orders' results, as
    ``run_together`` gives them."""
    results: list = [("missing", None)] * len(orders)

    def post(index: int) -> None:
        try:
            results[index] = ("ok", orders[index]())
        except Exception as error:
            results[index] = ("error", error)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(orders))]
    with transaction.atomic():
        locks.member_lock(member.pk)
        for thread in threads:
            thread.start()
        wait_for_lock_waiters(len(orders))
        meanwhile()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def _waiting_statements() -> list[str]:
    """What the other sessions of this database that wait on a lock are running."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def _entry(order_result) -> LedgerEntry:
    return LedgerEntry.objects.get(order=order_result.obj)


def _events_match_entries(member: Member) -> None:
    """Each points.earned event of the member's orders carries its entry's running
    balances, and the events follow the entries' order."""
    entries = {
        e.source_ref: e for e in LedgerEntry.objects.filter(member=member, order__isnull=False)
    }
    events = [
        event
        for event in OutboxEvent.objects.filter(
            merchant_id=member.merchant_id, subject=member.external_id, type="points.earned"
        ).order_by("id")
        if event.payload["source"]["type"] == "order"
    ]
    assert len(events) == len(entries)
    for event in events:
        entry = entries[event.payload["source"]["ref"]]
        assert event.payload["balance_after"] == entry.balance_after
        assert event.payload["pending_after"] == entry.pending_after
        assert event.payload["member"]["points_balance"] == entry.balance_after
        assert event.payload["member"]["pending_points"] == entry.pending_after
    refs = [event.payload["source"]["ref"] for event in events]
    assert refs == sorted(refs, key=lambda ref: entries[ref].pk)


def _audited(merchant) -> None:
    audit = ledger_audit(merchant_id=merchant.pk)
    assert audit.ok, str(audit)


def test_the_lock_or_read_takes_a_free_member_and_reads_a_held_one_as_committed():
    merchant, _ = program_merchant()
    member = member_make(merchant, "cust-1", points=40)
    with transaction.atomic():
        assert locks.member_lock_or_read(merchant=merchant, external_id="nobody") is None

    seen: list = []

    def look() -> None:
        try:
            with transaction.atomic():
                seen.append(locks.member_lock_or_read(merchant=merchant, external_id="cust-1"))
        finally:
            connection.close()

    with transaction.atomic():
        held = locks.member_lock(member.pk)
        points_give(held, 5)  # not committed while the other reads
        reader = threading.Thread(target=look)
        reader.start()
        reader.join(timeout=20)
    assert not reader.is_alive()
    [(read, locked)] = seen
    assert locked is False
    assert (read.pk, read.points_balance, read.config_version) == (
        member.pk,
        40,
        member.merchant.config_version,
    )

    with transaction.atomic():
        found = locks.member_lock_or_read(merchant=merchant, external_id="cust-1")
        assert found is not None
        read, locked = found
        assert locked is True
        assert read.points_balance == 45


def test_an_order_built_while_the_member_is_held_is_written_on_the_balances_left_for_it():
    merchant, _ = program_merchant(pending_days=14)
    member = member_make(merchant, points=100)

    results = _while_held(
        member,
        [lambda: order_post(merchant, member, "30.00")],
        lambda: (order_post(merchant, member, "20.00"), points_give(member, 7)),
    )

    assert not errors(results), errors(results)
    [late] = oks(results)
    entry = _entry(late)
    assert (entry.pending, entry.balance_after, entry.pending_after) == (30, 107, 50)
    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.pending_points, member.lifetime_points) == (
        107,
        50,
        157,
    )
    latest = LedgerEntry.objects.filter(member=member).latest("created_at")
    assert member.last_activity_at == latest.created_at > entry.created_at
    _events_match_entries(member)
    _audited(merchant)


def test_a_tier_reached_while_an_order_waits_gives_it_the_new_multiplier():
    merchant, program = program_merchant(tiers_enabled=True, tier_basis=TierBasis.POINTS)
    silver = Tier.objects.create(
        program=program, name="Silver", threshold=30, multiplier=Decimal("1.5")
    )
    member = member_make(merchant)

    results = _while_held(
        member,
        [lambda: order_post(merchant, member, "10.00")],
        lambda: order_post(merchant, member, "40.00"),  # lifts the member into Silver
    )

    assert not errors(results), errors(results)
    [late] = oks(results)
    assert late.obj.points_earned == 15 == _entry(late).points
    member = assert_ledger_consistent(member)
    assert member.tier_id == silver.pk
    assert member.lifetime_points == 55
    assert TierChange.objects.filter(member=member).count() == 1
    _audited(merchant)


def test_a_capped_rule_taken_while_an_order_waits_is_not_given_twice():
    merchant, program = program_merchant()
    rule = EarningRule.objects.create(
        program=program,
        name="Welcome bonus",
        kind=RuleKind.PURCHASE_BONUS,
        bonus_points=50,
        cap_period=CapPeriod.EVER,
        cap_count=1,
    )
    member = member_make(merchant)

    results = _while_held(
        member,
        [lambda: order_post(merchant, member, "10.00")],
        lambda: order_post(merchant, member, "20.00"),  # takes the bonus
    )

    assert not errors(results), errors(results)
    [late] = oks(results)
    assert late.obj.points_earned == 10
    assert RuleAward.objects.filter(rule=rule, member=member).count() == 1
    assert assert_ledger_consistent(member).points_balance == 80
    _audited(merchant)


def test_a_program_changed_while_an_order_waits_earns_by_the_new_terms():
    merchant, _ = program_merchant()
    member = member_make(merchant)

    def change() -> None:
        program_configure(
            merchant=merchant,
            actor=SYSTEM,
            name="P",
            points_name="Stars",
            point_value=Decimal("0.01"),
            base_earn_rate=Decimal("3"),
            pending_days=0,
        )

    # The waiting order read the configuration's version with its lock statement, which
    # began before the change: like an order that waited for the member before, it earns
    # by the terms it started with, and the one after earns by the new ones.
    results = _while_held(member, [lambda: order_post(merchant, member, "10.00")], change)

    assert not errors(results), errors(results)
    [late] = oks(results)
    assert late.obj.points_earned == 10
    assert order_post(merchant, member, "10.00").obj.points_earned == 30
    assert assert_ledger_consistent(member).points_balance == 40


def test_many_orders_for_one_member_earn_as_if_one_after_the_other():
    merchant, program = program_merchant(
        tiers_enabled=True, tier_basis=TierBasis.POINTS, pending_days=14
    )
    tiers = [
        Tier.objects.create(program=program, name="Silver", threshold=40, multiplier=Decimal(2)),
        Tier.objects.create(program=program, name="Gold", threshold=150, multiplier=Decimal(3)),
    ]
    rule = EarningRule.objects.create(
        program=program,
        name="First three orders: 5 more",
        kind=RuleKind.PURCHASE_BONUS,
        bonus_points=5,
        cap_period=CapPeriod.EVER,
        cap_count=3,
    )
    member = member_make(merchant, points=3)

    # The first wave carries the member across both thresholds and uses up the bonus:
    # the orders built while others held the member are built again under the lock. In
    # the second, nothing changes what an order earns: each is written as it was built,
    # on the balances its predecessor left.
    for count in (16, 12):
        results = run_together(count, lambda i: order_post(merchant, member, "10.00"))
        assert not errors(results), errors(results)
        assert len(oks(results)) == count
    assert Order.objects.filter(member=member).count() == 28
    member = assert_ledger_consistent(member)
    # In the order the member's lock was granted: the bonus to the first three, each at
    # the multiplier of the tier the points before it reached.
    lifetime, bonuses = 3, 0
    for entry in LedgerEntry.objects.filter(member=member, kind="earn").order_by("id"):
        reached = tier_for(tiers, Decimal(lifetime))
        multiplier = reached.multiplier if reached else Decimal(1)
        bonus = 5 if bonuses < 3 else 0
        assert entry.pending == int((10 + bonus) * multiplier), (entry, reached, bonuses)
        assert entry.order.points_earned == entry.pending
        lifetime += entry.pending
        bonuses += bool(bonus)
    assert RuleAward.objects.filter(rule=rule, member=member).count() == 3
    assert member.lifetime_points == lifetime
    assert member.tier_id == tiers[-1].pk
    assert [c.to_tier_id for c in TierChange.objects.filter(member=member).order_by("id")] == [
        tiers[0].pk,
        tiers[1].pk,
    ]
    _events_match_entries(member)
    _audited(merchant)


def test_orders_of_a_held_member_wait_inside_their_one_write_and_take_the_balances_in_turn():
    merchant, _ = program_merchant(pending_days=0)
    member = member_make(merchant, points=100)
    seen: list = []

    def meanwhile() -> None:
        seen.extend(_waiting_statements())
        points_give(member, 7)

    results = _while_held(
        member,
        [lambda i=i: order_post(merchant, member, f"{10 * (i + 1)}.00") for i in range(3)],
        meanwhile,
    )

    assert not errors(results), errors(results)
    # Each waits in the statement that locks and moves the member and writes the order,
    # holding nothing else: no transaction of theirs was open while they waited.
    assert len(seen) == 3
    assert all(sql.startswith('WITH wg AS (UPDATE "loyalty_member"') for sql in seen), seen
    member = assert_ledger_consistent(member)
    assert member.points_balance == 100 + 7 + 10 + 20 + 30
    assert member.lifetime_points == member.points_balance
    assert sorted(result.obj.points_earned for result in oks(results)) == [10, 20, 30]
    latest = LedgerEntry.objects.filter(member=member).latest("created_at")
    assert member.last_activity_at == latest.created_at
    _events_match_entries(member)
    _audited(merchant)


def test_a_member_blocked_while_an_order_waits_refuses_it_and_it_writes_nothing():
    merchant, _ = program_merchant()
    member = member_make(merchant, points=20)

    results = _while_held(
        member,
        [lambda: order_post(merchant, member, "10.00")],
        lambda: Member.objects.filter(pk=member.pk).update(status=MemberStatus.BLOCKED),
    )

    [(status, error)] = results
    assert status == "error"
    assert isinstance(error, MemberNotActive)
    assert not Order.objects.filter(member=member).exists()
    assert assert_ledger_consistent(member).points_balance == 20


def test_an_order_inside_a_callers_transaction_leaves_it_usable_when_it_is_a_replay():
    merchant, _ = program_merchant()
    member = member_make(merchant, points=5)

    at = timezone.now()
    with transaction.atomic():
        first = order_post(merchant, member, "10.00", external_id="same", placed_at=at)
        again = order_post(merchant, member, "10.00", external_id="same", placed_at=at)
        assert Member.objects.get(pk=member.pk).points_balance == 15  # still usable

    assert (first.replayed, again.replayed) == (False, True)
    assert again.obj.pk == first.obj.pk
    assert Order.objects.filter(member=member).count() == 1
    assert assert_ledger_consistent(member).points_balance == 15
