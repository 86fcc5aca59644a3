"""Dispatch of supplier orders with the sandbox adapter: delivery, retries with back-off,
reconciliation of unknown outcomes, fail-over, refunds, leases and the circuit breaker."""

import datetime
import json
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.db.models import Sum
from django.utils import timezone

from catalog.models import AlertKind, CatalogAlert, Supplier, SupplierOffer
from core.actors import Actor
from fulfillment.adapters.sandbox import sandbox_placed_count, sandbox_placements, sandbox_reset
from fulfillment.billing import BillingCache
from fulfillment.models import DeliveredCode, Redemption, SupplierOrder
from fulfillment.services import delivery, dispatch, redemptions
from loyalty.models import LedgerEntry, Member
from merchants.models import OutboxEvent, UsageRecord
from tests.catalog.factories import (
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    merchant_with_program,
    select,
)
from tests.loyalty.factories import assert_ledger_consistent, member_make
from tests.loyalty.test_ledger_concurrency import run_together

pytestmark = pytest.mark.django_db
HOUR = datetime.timedelta(hours=1)
# Redemptions through the unreliable suppliers: enough that the run all but surely meets
# every outcome (a refusal, a retry, a time-out, an unknown outcome found by a lookup, an
# order delivered later, a fail-over), each at least 5 % of the first calls alone.
REDEMPTIONS = 100


@pytest.fixture(autouse=True)
def fresh_sandbox():
    sandbox_reset()
    yield
    sandbox_reset()


def sandbox(slug: str, **rates) -> Supplier:
    return SupplierFactory(
        slug=slug, adapter="sandbox", adapter_config=json.dumps({"seed": 7, **rates})
    )


def shop(*suppliers: Supplier, stock: int | None = None, points: int = 100_000):
    merchant, _ = merchant_with_program()
    reward = RewardFactory(denominations=["10", "25"])
    for preference, supplier in enumerate(suppliers):
        OfferFactory(reward=reward, supplier=supplier, preference=preference, stock=stock)
    select(merchant, reward, price_step=1)
    member_make(merchant, "cust-1", points=points, country="US")
    return merchant, reward


def redeem(merchant, reward, value="25", external_id="") -> Redemption:
    recorded = redemptions.redemption_create(
        merchant=merchant,
        data=redemptions.RedemptionInput(
            member_external_id="cust-1",
            reward_id=reward.pk,
            value=Decimal(value),
            recipient={"email": "ana@example.com"},
            external_id=external_id,
        ),
        actor=Actor.system("test"),
    )
    return recorded.obj


def run_until_settled(now: datetime.datetime, rounds: int = 60) -> datetime.datetime:
    for _ in range(rounds):
        dispatch.process_due(now=now, batch_size=1000)
        now += HOUR
        if not SupplierOrder.objects.filter(status__in=dispatch.ACTIVE).exists():
            return now
    raise AssertionError("supplier orders still active after all rounds")


def test_a_redemption_is_delivered_and_its_codes_are_encrypted_at_rest():
    merchant, reward = shop(sandbox("good"))
    redemption = redeem(merchant, reward)

    result = dispatch.process_due(now=timezone.now())

    assert (result.claimed, result.delivered) == (1, 1)
    redemption.refresh_from_db()
    assert redemption.status == "delivered"
    assert redemption.delivered_at is not None
    (code,) = DeliveredCode.objects.filter(redemption=redemption)
    assert code.code.startswith("SBX-")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT code FROM fulfillment_deliveredcode WHERE id = %s", [code.pk])
        (stored,) = cursor.fetchone()
    assert code.code not in stored
    assert [e.to_value for e in redemption.events.all()] == ["pending", "delivered"]
    assert sandbox_placed_count() == 1
    # Nothing left to do: a second run claims nothing.
    assert dispatch.process_due(now=timezone.now() + HOUR).claimed == 0


def test_retryable_failures_back_off_then_fail_over_then_refund_when_nothing_is_left():
    merchant, reward = shop(sandbox("flaky", failure_rate=1, terminal_share=0), stock=3)
    redemption = redeem(merchant, reward)
    offer = SupplierOffer.objects.get()
    assert offer.stock == 2

    now = timezone.now()
    delays = []
    for _ in range(dispatch.MAX_TRIES - 1):
        dispatch.process_due(now=now)
        order = SupplierOrder.objects.get()
        assert order.status == "queued"
        delays.append(order.next_try_at - now)
        now = order.next_try_at
    assert delays == sorted(delays)  # growing back-off
    redemption.refresh_from_db()
    assert redemption.status == "failed"

    result = dispatch.process_due(now=now)

    assert result.refunded == 1
    redemption.refresh_from_db()
    assert redemption.status == "refunded"
    assert redemption.needs_care
    assert redemption.refund_entry.points == 2500
    assert assert_ledger_consistent(redemption.member).points_balance == 100_000
    offer.refresh_from_db()
    assert offer.stock == 3  # the reserved unit came back
    assert sandbox_placed_count() == 0


def test_a_terminal_failure_fails_over_to_the_next_offer():
    merchant, reward = shop(sandbox("broken", failure_rate=1, terminal_share=1), sandbox("backup"))
    redemption = redeem(merchant, reward)
    now = timezone.now()
    first = dispatch.process_due(now=now)
    assert first.failed_over == 1
    second = dispatch.process_due(now=now)
    assert second.delivered == 1
    redemption.refresh_from_db()
    assert redemption.status == "delivered"
    orders = list(redemption.supplier_orders.order_by("attempt"))
    assert [(o.attempt, o.status, o.supplier.slug) for o in orders] == [
        (1, "failed", "broken"),
        (2, "delivered", "backup"),
    ]
    assert orders[1].idempotency_key.endswith("-2")


def test_an_unknown_outcome_is_reconciled_before_any_retry_and_never_bought_twice():
    supplier = sandbox("vague", unknown_rate=1)
    merchant, reward = shop(supplier)
    redemption = redeem(merchant, reward)
    now = timezone.now()
    dispatch.process_due(now=now)
    order = SupplierOrder.objects.get()
    assert order.status == "unknown"
    assert sandbox_placed_count(order.idempotency_key) == 1

    dispatch.process_due(now=order.next_try_at)  # the lookup finds it placed

    redemption.refresh_from_db()
    assert redemption.status == "delivered"
    assert sandbox_placed_count(order.idempotency_key) == 1


def test_a_claimed_order_is_leased_and_comes_back_if_its_worker_dies():
    merchant, reward = shop(sandbox("good"))
    redemption = redeem(merchant, reward)
    now = timezone.now()
    claimed = dispatch._claim(now, 10, None)  # a worker claims it, then dies
    assert len(claimed) == 1
    assert dispatch.process_due(now=now).claimed == 0  # leased
    assert dispatch.process_due(now=now + dispatch.LEASE).delivered == 1
    redemption.refresh_from_db()
    assert redemption.status == "delivered"
    assert sandbox_placed_count() == 1


def test_a_supplier_failing_again_and_again_is_paused_and_ops_are_told():
    bad = sandbox("bad", failure_rate=1, terminal_share=1)
    merchant, reward = shop(bad, sandbox("backup", failure_rate=1, terminal_share=1))
    for number in range(dispatch.BREAKER_FAILURES):
        redeem(merchant, reward, value="10", external_id=f"r{number}")
    result = dispatch.process_due(now=timezone.now(), batch_size=1000)
    bad.refresh_from_db()
    assert not bad.is_active
    assert "bad" in result.paused_suppliers
    assert CatalogAlert.objects.filter(
        kind=AlertKind.SUPPLIER_PAUSED, subject=f"supplier:{bad.pk}", resolved_at=None
    ).exists()


def test_the_rate_limit_holds_new_placements_back():
    supplier = sandbox("slow")
    supplier.rate_limit_per_minute = 2
    supplier.save()
    merchant, reward = shop(supplier)
    for number in range(5):
        redeem(merchant, reward, value="10", external_id=f"r{number}")
    now = timezone.now()
    assert dispatch.process_due(now=now).delivered == 2
    assert dispatch.process_due(now=now).delivered == 0
    assert dispatch.process_due(now=now + datetime.timedelta(seconds=61)).delivered == 2


def test_a_hundred_redemptions_through_an_unreliable_supplier_all_settle_once():
    """30 % failures, 10 % timeouts, 5 % unknown outcomes, some of them async: every
    redemption ends delivered or refunded, never both; nothing is bought twice; the
    points spent are those delivered plus those given back."""
    rates = {"failure_rate": 0.3, "timeout_rate": 0.1, "unknown_rate": 0.05, "async_rate": 0.2}
    merchant, reward = shop(
        sandbox("wobbly", **rates), sandbox("wobbly-too", **rates), points=REDEMPTIONS * 1000
    )
    Supplier.objects.update(rate_limit_per_minute=10_000)
    redemptions = [
        redeem(merchant, reward, value="10", external_id=f"r{number}")
        for number in range(REDEMPTIONS)
    ]
    run_until_settled(timezone.now())

    statuses = dict(
        Redemption.objects.values_list("status").annotate(n=Sum(1)).values_list("status", "n")
    )
    assert set(statuses) <= {"delivered", "refunded"}
    assert sum(statuses.values()) == REDEMPTIONS
    assert statuses.get("delivered", 0) > 0
    # Delivered xor refunded.
    assert not Redemption.objects.filter(status="delivered", refund_entry__isnull=False).exists()
    assert not Redemption.objects.filter(status="refunded", refund_entry__isnull=True).exists()
    # No supplier order key placed twice, and one delivered order per delivered redemption.
    assert max(sandbox_placements().values()) == 1
    for redemption in Redemption.objects.filter(status="delivered"):
        assert redemption.supplier_orders.filter(status="delivered").count() == 1
    # Points conserved.
    member = Member.objects.get()
    spent = -LedgerEntry.objects.filter(member=member, kind="redeem").aggregate(s=Sum("points"))[
        "s"
    ]
    given_back = (
        LedgerEntry.objects.filter(member=member, kind="redemption_refund").aggregate(
            s=Sum("points")
        )["s"]
        or 0
    )
    delivered = Redemption.objects.filter(status="delivered").aggregate(s=Sum("points_total"))["s"]
    assert spent == REDEMPTIONS * 1000 == delivered + given_back
    assert assert_ledger_consistent(member).points_balance == given_back
    assert len(redemptions) == REDEMPTIONS


def test_a_delivery_emails_the_member_their_claim_link_once_it_commits(
    django_capture_on_commit_callbacks, settings
):
    from django.core import mail

    settings.PUBLIC_BASE_URL = "https://loyalty.example.com"
    merchant, reward = shop(sandbox("good"))
    redemption = redeem(merchant, reward)
    with django_capture_on_commit_callbacks(execute=True):
        dispatch.process_due(now=timezone.now())
    (message,) = mail.outbox
    assert message.to == ["ana@example.com"]
    assert "https://loyalty.example.com/claim/" in message.body
    redemption.refresh_from_db()
    assert redemption.delivery_status == "sent"


def test_a_run_whose_lease_ran_out_leaves_the_row_to_the_run_that_took_it():
    merchant, reward = shop(sandbox("good"))
    redemption = redeem(merchant, reward)
    first = timezone.now()
    claimed = dispatch._claim(first, 10, None)  # a slow run claims it...
    later = first + dispatch.LEASE
    assert dispatch.process_due(now=later).delivered == 1  # ...another takes it over
    stale = dispatch.DispatchResult()
    finished = dispatch._run_batch(  # the slow run finally gets to it: its call is a replay
        claimed,
        first,
        stale,
        stop_at=time.monotonic() + 60,
        deadline=None,
        billing=BillingCache(),
        actor=dispatch.DISPATCH_ACTOR,
    )
    assert finished
    assert stale == dispatch.DispatchResult(claimed=1)  # and it records nothing
    assert sandbox_placed_count() == 1
    redemption.refresh_from_db()
    assert redemption.status == "delivered"
    assert redemption.supplier_orders.count() == 1


def backlog(count: int, supplier: Supplier) -> tuple[list[Redemption], list[SupplierOrder]]:
    merchant, reward = shop(supplier, points=count * 2500)
    redemptions = [redeem(merchant, reward, external_id=f"r{n}") for n in range(count)]
    return redemptions, list(SupplierOrder.objects.filter(redemption__in=redemptions))


def test_one_scheduled_run_drains_a_backlog_of_many_batches():
    from fulfillment.tasks import process_supplier_orders

    redemptions, _ = backlog(7, sandbox("good"))

    report = process_supplier_orders(batch_size=2)

    assert report["summary"].startswith("7 claimed: 7 delivered")
    assert report["rows"] == 7
    assert not SupplierOrder.objects.filter(status__in=dispatch.ACTIVE).exists()
    assert set(Redemption.objects.values_list("status", flat=True)) == {"delivered"}
    assert sorted(sandbox_placements().values()) == [1] * 7
    assert len(redemptions) == 7


def test_a_run_stops_at_its_budget_and_releases_what_it_claimed_for_the_next():
    _, orders = backlog(12, sandbox("slow", latency_ms=50))  # 12 calls: 0.6 s at least

    first = dispatch.process_due(
        now=timezone.now(), batch_size=5, budget=datetime.timedelta(seconds=0.3)
    )

    assert 0 < first.delivered == first.claimed < 12
    left = SupplierOrder.objects.filter(status="queued")
    assert left.count() == 12 - first.delivered
    # Nothing left leased: what the run claimed and did not get to is due again at once.
    assert not left.filter(next_try_at__gt=timezone.now()).exists()

    second = dispatch.process_due(
        now=timezone.now(), batch_size=5, budget=datetime.timedelta(seconds=60)
    )

    assert first.delivered + second.delivered == 12
    assert SupplierOrder.objects.filter(status="delivered").count() == len(orders) == 12
    assert sorted(sandbox_placements().values()) == [1] * 12


def test_without_a_budget_a_run_is_one_batch():
    backlog(5, sandbox("good"))
    assert dispatch.process_due(now=timezone.now(), batch_size=2).delivered == 2
    assert SupplierOrder.objects.filter(status="queued").count() == 3


def test_a_supplier_at_its_rate_limit_does_not_hold_back_the_orders_behind_it():
    throttled = sandbox("throttled")
    throttled.rate_limit_per_minute = 2
    throttled.save()
    slow_lane, _ = backlog(5, throttled)  # due first
    merchant, reward = shop(sandbox("fast"))
    fast_lane = [redeem(merchant, reward, external_id=f"f{n}") for n in range(3)]

    result = dispatch.process_due(
        now=timezone.now(), batch_size=3, budget=datetime.timedelta(seconds=60)
    )

    assert result.delivered == 2 + 3
    statuses = dict(Redemption.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in fast_lane] == ["delivered"] * 3
    assert sorted(statuses[r.pk] for r in slow_lane) == ["delivered"] * 2 + ["pending"] * 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_scheduled_runs_at_once_never_process_the_same_order():
    supplier = sandbox("shared", latency_ms=20)
    # With room for one order a minute, only the first redemption goes out when it
    # commits (tasks run eagerly here); the others wait for the scheduled runs.
    Supplier.objects.filter(pk=supplier.pk).update(rate_limit_per_minute=1)
    merchant, _ = merchant_with_program()
    reward = RewardFactory(denominations=["10"], recipient_fields=[])
    OfferFactory(reward=reward, supplier=supplier)
    select(merchant, reward, price_step=1)
    member_make(merchant, "cust-1", points=41 * 1000, country="US")
    for number in range(41):
        redemptions.redemption_create(
            merchant=merchant,
            data=redemptions.RedemptionInput(
                member_external_id="cust-1",
                reward_id=reward.pk,
                value=Decimal("10"),
                recipient={},
                external_id=f"r{number}",
            ),
            actor=Actor.system("test"),
        )
    assert SupplierOrder.objects.filter(status="queued").count() == 40
    Supplier.objects.filter(pk=supplier.pk).update(rate_limit_per_minute=10_000)
    results: list[dispatch.DispatchResult] = []
    barrier = threading.Barrier(2)

    def scheduled_run() -> None:
        try:
            barrier.wait()
            results.append(
                dispatch.process_due(
                    now=timezone.now(), batch_size=5, budget=datetime.timedelta(seconds=60)
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduled_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 2
    assert all(result.claimed > 0 for result in results)  # both runs did work
    assert sum(result.claimed for result in results) == 40
    assert sum(result.delivered for result in results) == 40
    assert sorted(sandbox_placements().values()) == [1] * 41  # no key placed twice
    assert set(Redemption.objects.values_list("status", flat=True)) == {"delivered"}
    for redemption in Redemption.objects.all():
        assert redemption.supplier_orders.get().status == "delivered"
        assert redemption.codes.count() == 1
    assert UsageRecord.objects.count() == 41
    assert connection.vendor == "postgresql"


def test_a_batch_of_deliveries_records_each_as_one_delivery_would(
    django_capture_on_commit_callbacks,
):
    from django.core import mail

    merchant, reward = shop(sandbox("good"))
    batch = [redeem(merchant, reward, value="10", external_id=f"r{n}") for n in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        result = dispatch.process_due(now=timezone.now(), batch_size=10)

    assert (result.claimed, result.delivered) == (5, 5)
    for redemption in batch:
        redemption.refresh_from_db()
        assert redemption.status == "delivered"
        assert redemption.delivered_at == redemption.closed_at is not None
        assert redemption.delivery_status == "sent"
        statuses = redemption.events.filter(field="status").order_by("id")
        assert [e.to_value for e in statuses] == ["pending", "delivered"]
        delivered_event = statuses.get(to_value="delivered")
        (order,) = redemption.supplier_orders.all()
        assert delivered_event.note == order.idempotency_key
        assert delivered_event.source == "good"
        assert (order.status, order.tries, order.error_kind) == ("delivered", 1, "")
        assert order.supplier_ref.startswith("SBX")
        assert order.submitted_at == order.completed_at is not None
        assert order.cost == Decimal("10.00")
        assert order.cost_currency == "USD"
        assert redemption.codes.get().code.startswith("SBX-")
    assert len(mail.outbox) == 5  # one email each, once the batch commits
    delivered = OutboxEvent.objects.filter(type="redemption.delivered")
    assert sorted(delivered.values_list("payload__redemption__id", flat=True)) == sorted(
        str(redemption.public_id) for redemption in batch
    )
    member = Member.objects.get()
    for event in delivered:
        assert event.subject == "cust-1"
        assert event.payload["member"]["points_balance"] == member.points_balance
        assert event.payload["redemption"]["status"] == "delivered"
        assert event.payload["redemption"]["reward"]["name"] == reward.name
    assert UsageRecord.objects.count() == 5
    assert sorted(sandbox_placements().values()) == [1] * 5


def test_the_other_outcomes_of_a_batch_are_recorded_beside_its_deliveries():
    good, refused = sandbox("good"), sandbox("refused", failure_rate=1, terminal_share=1)
    merchant, reward = shop(good)
    delivered = [redeem(merchant, reward, value="10", external_id=f"g{n}") for n in range(2)]
    other_merchant, other_reward = shop(refused)
    refunded = redeem(other_merchant, other_reward, value="10", external_id="x")

    result = dispatch.process_due(now=timezone.now(), batch_size=10)

    assert (result.claimed, result.delivered, result.refunded) == (3, 2, 1)
    assert {r.status for r in Redemption.objects.filter(pk__in=[r.pk for r in delivered])} == {
        "delivered"
    }
    refunded.refresh_from_db()
    assert refunded.status == "refunded"
    assert assert_ledger_consistent(refunded.member).points_balance == 100_000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_whose_leases_overlap_deliver_each_redemption_once():
    """The second run's clock is a lease ahead of the first's, so every order the first
    has leased looks free to it: both may call the supplier for one order (with the same
    key, a replay), and only the run whose lease the row holds records it."""
    count = 60
    supplier = sandbox("shared", latency_ms=2)
    Supplier.objects.filter(pk=supplier.pk).update(rate_limit_per_minute=1)
    merchant, reward = shop(supplier, points=count * 2500)
    # With room for one order a minute, only the first goes out when it commits (tasks
    # run eagerly here); the others wait for the runs.
    batch = [redeem(merchant, reward, external_id=f"r{n}") for n in range(count)]
    assert SupplierOrder.objects.filter(status="queued").count() == count - 1
    Supplier.objects.filter(pk=supplier.pk).update(rate_limit_per_minute=10_000)
    first = timezone.now()

    results = run_together(
        2,
        lambda i: dispatch.process_due(
            now=first + i * dispatch.LEASE,
            batch_size=7,
            budget=datetime.timedelta(seconds=60),
        ),
    )

    runs = [value for status, value in results if status == "ok"]
    assert len(runs) == 2, results
    assert sum(run.delivered for run in runs) == count - 1
    assert set(Redemption.objects.values_list("status", flat=True)) == {"delivered"}
    assert sorted(sandbox_placements().values()) == [1] * count  # no key placed twice
    for redemption in batch:
        (order,) = redemption.supplier_orders.all()
        assert order.status == "delivered"
        assert redemption.codes.count() == 1
        assert redemption.events.filter(to_value="delivered").count() == 1
    assert UsageRecord.objects.count() == count
    assert OutboxEvent.objects.filter(type="redemption.delivered").count() == count
    member = assert_ledger_consistent(Member.objects.get())
    spent = Redemption.objects.aggregate(total=Sum("points_total"))["total"]
    assert member.points_balance == count * 2500 - spent
    assert connection.vendor == "postgresql"


def lost_email(merchant, reward, external_id: str, delivered_at: datetime.datetime) -> int:
    """A delivered redemption whose email task never ran."""
    redemption = redeem(merchant, reward, external_id=external_id)
    dispatch.process_due(now=timezone.now(), redemption_id=redemption.pk)
    Redemption.objects.filter(pk=redemption.pk).update(delivered_at=delivered_at)
    return redemption.pk


def test_the_lost_email_sweep_queues_a_delivery_again_once_in_its_window():
    merchant, reward = shop(sandbox("good"))
    now = timezone.now()
    lost = lost_email(merchant, reward, "lost", now - delivery.UNSENT_AFTER - HOUR / 60)

    assert delivery.unsent_deliveries_take(now=now) == [lost]
    # Every scheduled run of the window after that, the email still not sent (a backlog):
    for minute in range(1, int(delivery.UNSENT_REQUEUE_EVERY / datetime.timedelta(minutes=1))):
        later = now + datetime.timedelta(minutes=minute)
        assert delivery.unsent_deliveries_take(now=later) == []
    assert Redemption.objects.get(pk=lost).delivery_status == "none"


def test_the_lost_email_sweep_takes_the_next_oldest_rather_than_the_same_ones():
    merchant, reward = shop(sandbox("good"))
    now = timezone.now()
    oldest, older, old = (
        lost_email(merchant, reward, f"r{n}", now - datetime.timedelta(minutes=30 - n))
        for n in range(3)
    )
    assert delivery.unsent_deliveries_take(now=now, limit=2) == [oldest, older]
    assert delivery.unsent_deliveries_take(now=now, limit=2) == [old]
    assert delivery.unsent_deliveries_take(now=now, limit=2) == []
