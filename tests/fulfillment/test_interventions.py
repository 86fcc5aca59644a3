"""What staff do by hand, with the sandbox and manual adapters: cancel, retry now, fail
over, deliver a manual order by hand, reveal a code, reactivate a paused supplier."""

import datetime
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from catalog.alerts import alert_raise
from catalog.models import AlertKind, CatalogAlert, Supplier, SupplierOffer
from core.actors import Actor
from core.exceptions import DomainError, InvalidTransition, ReasonRequired
from fulfillment import exceptions
from fulfillment.adapters.sandbox import SandboxAdapter, sandbox_placed_count, sandbox_reset
from fulfillment.models import CodeReveal, DeliveredCode, Redemption, Shipment, SupplierOrder
from fulfillment.services import code_reveals, dispatch, interventions, redemptions
from loyalty.models import LedgerEntry
from tests.catalog.factories import (
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    merchant_with_program,
    select,
)
from tests.loyalty.factories import assert_ledger_consistent, member_make
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db
POINTS = 100_000
PRICE = 2500  # 25 USD at 0.01 a point


@pytest.fixture(autouse=True)
def fresh_sandbox():
    sandbox_reset()
    yield
    sandbox_reset()


@pytest.fixture
def agent():
    return StaffFactory()


def sandbox(slug: str, **rates) -> Supplier:
    return SupplierFactory(
        slug=slug, adapter="sandbox", adapter_config=json.dumps({"seed": 7, **rates})
    )


def manual(slug: str = "by-hand") -> Supplier:
    return SupplierFactory(slug=slug, adapter="manual")


def shop(*suppliers: Supplier, stock: int | None = None, member: str = "cust-1"):
    merchant, _ = merchant_with_program()
    reward = RewardFactory(denominations=["10", "25"])
    for preference, supplier in enumerate(suppliers):
        OfferFactory(reward=reward, supplier=supplier, preference=preference, stock=stock)
    select(merchant, reward, price_step=1)
    member_make(merchant, member, points=POINTS, country="US")
    return merchant, reward


def redeem(merchant, reward, *, quantity: int = 1, member: str = "cust-1") -> Redemption:
    return redemptions.redemption_create(
        merchant=merchant,
        data=redemptions.RedemptionInput(
            member_external_id=member,
            reward_id=reward.pk,
            value=Decimal("25"),
            quantity=quantity,
            recipient={"email": "ana@example.com"},
        ),
        actor=Actor.system("test"),
    ).obj


def order_of(redemption: Redemption) -> SupplierOrder:
    return redemption.supplier_orders.order_by("-attempt").first()


def refunds(redemption: Redemption) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(reverses=redemption.spend_entry))


def staff_events(redemption: Redemption, agent) -> list[tuple[str, str, str]]:
    return [
        (e.field, e.from_value, e.to_value)
        for e in redemption.events.filter(source="staff", actor=agent)
    ]


def submitted(*suppliers: Supplier, stock: int | None = None):
    """A redemption whose (async) supplier order was placed and awaits delivery."""
    merchant, reward = shop(*suppliers, stock=stock)
    redemption = redeem(merchant, reward)
    dispatch.process_due(now=timezone.now())
    order = order_of(redemption)
    assert order.status == "submitted"
    assert order.supplier_ref
    return redemption, order


# -- cancel ----------------------------------------------------------------------------------


def test_cancel_a_queued_redemption_gives_points_and_stock_back_once(agent):
    merchant, reward = shop(sandbox("good"), stock=3)
    redemption = redeem(merchant, reward)
    assert SupplierOffer.objects.get().stock == 2

    interventions.redemption_cancel(
        redemption=redemption, reason="member asked", actor=Actor.staff(agent)
    )

    redemption.refresh_from_db()
    assert redemption.status == "cancelled"
    assert not redemption.needs_care
    assert redemption.closed_at is not None
    assert [e.points for e in refunds(redemption)] == [PRICE]
    assert assert_ledger_consistent(redemption.member).points_balance == POINTS
    assert SupplierOffer.objects.get().stock == 3
    order = order_of(redemption)
    assert (order.status, order.stock_reserved) == ("failed", 0)
    assert "member asked" in order.last_error
    assert staff_events(redemption, agent) == [("status", "pending", "cancelled")]
    # Dispatch has nothing left to do, and nothing was bought.
    assert dispatch.process_due(now=timezone.now()).claimed == 0
    assert sandbox_placed_count() == 0

    with pytest.raises(InvalidTransition):
        interventions.redemption_cancel(
            redemption=redemption, reason="again", actor=Actor.staff(agent)
        )
    assert len(refunds(redemption)) == 1
    assert SupplierOffer.objects.get().stock == 3


def test_cancel_a_submitted_order_cancels_it_with_the_supplier(agent):
    redemption, order = submitted(sandbox("slow", async_rate=1))

    interventions.redemption_cancel(
        redemption=redemption, reason="too slow", actor=Actor.staff(agent)
    )

    redemption.refresh_from_db()
    assert redemption.status == "cancelled"
    assert len(refunds(redemption)) == 1
    # The supplier cancelled it: a later lookup would report it cancelled, not delivered.
    result = SandboxAdapter({}).lookup(order.idempotency_key)
    assert result.failed
    assert staff_events(redemption, agent) == [("status", "submitted", "cancelled")]


def test_cancel_is_refused_when_the_supplier_already_delivered(agent):
    redemption, order = submitted(sandbox("slow", async_rate=1))
    SandboxAdapter({}).lookup(order.idempotency_key)  # delivered on the supplier's side

    with pytest.raises(exceptions.SupplierRefusedCancel, match="can no longer be cancelled"):
        interventions.redemption_cancel(
            redemption=redemption, reason="too slow", actor=Actor.staff(agent)
        )

    redemption.refresh_from_db()
    assert redemption.status == "submitted"
    assert refunds(redemption) == []
    # Due again, so dispatch records the delivery at once.
    order.refresh_from_db()
    assert order.next_try_at <= timezone.now()
    dispatch.process_due(now=timezone.now())
    redemption.refresh_from_db()
    assert redemption.status == "delivered"


def test_cancel_is_refused_while_the_outcome_is_unknown(agent):
    merchant, reward = shop(sandbox("vague", unknown_rate=1))
    redemption = redeem(merchant, reward)
    dispatch.process_due(now=timezone.now())
    assert order_of(redemption).status == "unknown"

    with pytest.raises(exceptions.SupplierRefusedCancel, match="not said whether"):
        interventions.redemption_cancel(redemption=redemption, reason="x", actor=Actor.staff(agent))
    redemption.refresh_from_db()
    assert redemption.status == "pending"
    assert refunds(redemption) == []


def test_cancel_waits_while_a_dispatch_run_may_be_placing_the_order(agent):
    merchant, reward = shop(sandbox("good"))
    redemption = redeem(merchant, reward)
    dispatch._claim(timezone.now(), 10, None)  # a run has it leased, mid-call

    with pytest.raises(exceptions.OrderInFlight):
        interventions.redemption_cancel(redemption=redemption, reason="x", actor=Actor.staff(agent))
    assert Redemption.objects.get(pk=redemption.pk).status == "pending"


def test_cancel_needs_a_reason_and_refuses_closed_redemptions(agent):
    merchant, reward = shop(sandbox("good"))
    redemption = redeem(merchant, reward)
    with pytest.raises(ReasonRequired):
        interventions.redemption_cancel(
            redemption=redemption, reason="  ", actor=Actor.staff(agent)
        )
    dispatch.process_due(now=timezone.now())
    redemption.refresh_from_db()
    assert redemption.status == "delivered"
    with pytest.raises(InvalidTransition):
        interventions.redemption_cancel(
            redemption=redemption, reason="late", actor=Actor.staff(agent)
        )
    assert refunds(redemption) == []


# -- retry now ---------------------------------------------------------------------------


def test_retry_now_makes_the_order_due_with_the_same_key(agent):
    supplier = sandbox("flaky", failure_rate=1, terminal_share=0)
    merchant, reward = shop(supplier)
    redemption = redeem(merchant, reward)
    dispatch.process_due(now=timezone.now())
    order = order_of(redemption)
    assert order.status == "queued"
    assert order.next_try_at > timezone.now()
    key = order.idempotency_key

    interventions.redemption_retry_now(redemption=redemption, actor=Actor.staff(agent))

    order.refresh_from_db()
    assert order.next_try_at <= timezone.now()
    assert order.idempotency_key == key
    assert staff_events(redemption, agent) == [("supplier_order", "queued", "retry_now")]
    # The supplier works again: the next run places it under the same key.
    Supplier.objects.filter(pk=supplier.pk).update(adapter_config=json.dumps({"seed": 7}))
    assert dispatch.process_due(now=timezone.now()).delivered == 1
    assert sandbox_placed_count(key) == 1


def test_retry_now_refuses_closed_redemptions_and_orders_being_placed(agent):
    merchant, reward = shop(sandbox("good"))
    redemption = redeem(merchant, reward)
    dispatch._claim(timezone.now(), 10, None)
    with pytest.raises(exceptions.OrderInFlight):
        interventions.redemption_retry_now(redemption=redemption, actor=Actor.staff(agent))
    dispatch.process_due(now=timezone.now() + dispatch.LEASE)
    with pytest.raises(InvalidTransition):
        interventions.redemption_retry_now(redemption=redemption, actor=Actor.staff(agent))


# -- fail over ---------------------------------------------------------------------------


def test_fail_over_a_queued_order_moves_to_the_next_offer(agent):
    merchant, reward = shop(sandbox("first"), sandbox("backup"), stock=5)
    redemption = redeem(merchant, reward)

    interventions.redemption_fail_over(
        redemption=redemption, reason="first is slow", actor=Actor.staff(agent)
    )

    redemption.refresh_from_db()
    assert redemption.status == "failed"
    orders = list(redemption.supplier_orders.order_by("attempt"))
    assert [(o.attempt, o.status, o.supplier.slug) for o in orders] == [
        (1, "failed", "first"),
        (2, "queued", "backup"),
    ]
    assert "first is slow" in orders[0].last_error
    stocks = dict(SupplierOffer.objects.values_list("supplier__slug", "stock"))
    assert stocks == {"first": 5, "backup": 4}
    assert staff_events(redemption, agent) == [("status", "pending", "failed")]
    assert dispatch.process_due(now=timezone.now()).delivered == 1
    assert refunds(redemption) == []


def test_fail_over_with_no_offer_left_refunds_once_for_care(agent):
    merchant, reward = shop(sandbox("only"), stock=2)
    redemption = redeem(merchant, reward)

    interventions.redemption_fail_over(
        redemption=redemption, reason="broken", actor=Actor.staff(agent)
    )

    redemption.refresh_from_db()
    assert redemption.status == "refunded"
    assert redemption.needs_care
    assert [e.points for e in refunds(redemption)] == [PRICE]
    assert assert_ledger_consistent(redemption.member).points_balance == POINTS
    assert SupplierOffer.objects.get().stock == 2
    assert staff_events(redemption, agent) == [("status", "pending", "refunded")]
    with pytest.raises(InvalidTransition):
        interventions.redemption_fail_over(
            redemption=redemption, reason="again", actor=Actor.staff(agent)
        )
    assert len(refunds(redemption)) == 1


def test_fail_over_a_submitted_order_only_once_the_supplier_cancelled_it(agent):
    redemption, order = submitted(sandbox("slow", async_rate=1), sandbox("backup"))

    interventions.redemption_fail_over(
        redemption=redemption, reason="stuck", actor=Actor.staff(agent)
    )

    assert [o.status for o in redemption.supplier_orders.order_by("attempt")] == [
        "failed",
        "queued",
    ]
    assert SandboxAdapter({}).lookup(order.idempotency_key).failed  # cancelled there


def test_fail_over_of_a_delivered_order_at_the_supplier_is_refused(agent):
    redemption, order = submitted(sandbox("slow", async_rate=1), sandbox("backup"))
    SandboxAdapter({}).lookup(order.idempotency_key)

    with pytest.raises(exceptions.SupplierRefusedCancel):
        interventions.redemption_fail_over(
            redemption=redemption, reason="stuck", actor=Actor.staff(agent)
        )

    assert redemption.supplier_orders.count() == 1
    assert Redemption.objects.get(pk=redemption.pk).status == "submitted"


# -- manual orders ---------------------------------------------------------------------------


def test_manual_order_delivered_with_codes_stores_them_encrypted(agent):
    merchant, reward = shop(manual())
    redemption = redeem(merchant, reward, quantity=2)
    dispatch.process_due(now=timezone.now())
    order = order_of(redemption)
    assert order.status == "submitted"

    interventions.manual_order_deliver(
        supplier_order=order,
        codes=[
            {"code": "HAND-0001-AAAA", "pin": "1111", "expires_on": "2030-01-31"},
            {"code": "HAND-0002-BBBB"},
        ],
        tracking=None,
        actor=Actor.staff(agent),
    )

    redemption.refresh_from_db()
    order.refresh_from_db()
    assert (redemption.status, order.status) == ("delivered", "delivered")
    assert redemption.delivered_at is not None
    codes = list(DeliveredCode.objects.filter(redemption=redemption))
    assert [c.code for c in codes] == ["HAND-0001-AAAA", "HAND-0002-BBBB"]
    assert codes[0].expires_on == datetime.date(2030, 1, 31)
    with connection.cursor() as cursor:
        cursor.execute("SELECT code FROM fulfillment_deliveredcode WHERE id = %s", [codes[0].pk])
        assert "HAND-0001" not in cursor.fetchone()[0]
    assert staff_events(redemption, agent) == [("status", "submitted", "delivered")]
    assert dispatch.process_due(now=timezone.now() + dispatch.LEASE).claimed == 0


def test_manual_order_shipped_records_the_tracking(agent):
    merchant, reward = shop(manual())
    redemption = redeem(merchant, reward)
    dispatch.process_due(now=timezone.now())

    interventions.manual_order_deliver(
        supplier_order=order_of(redemption),
        codes=None,
        tracking={"carrier": "DHL", "number": "JD0001", "url": "https://dhl.example/JD0001"},
        actor=Actor.staff(agent),
    )

    redemption.refresh_from_db()
    assert (redemption.status, redemption.delivery_status) == ("delivered", "shipped")
    shipment = Shipment.objects.get(redemption=redemption)
    assert (shipment.carrier, shipment.tracking_number, shipment.tracking_url) == (
        "DHL",
        "JD0001",
        "https://dhl.example/JD0001",
    )
    assert (shipment.status, shipment.source) == ("shipped", "staff")
    assert shipment.supplier_order == order_of(redemption)
    assert shipment.shipped_at is not None
    assert staff_events(redemption, agent) == [
        ("status", "submitted", "delivered"),
        ("shipment", "", "shipped"),
        ("delivery", "none", "shipped"),
    ]
    assert "DHL JD0001" in redemption.events.get(field="shipment").note
    assert not DeliveredCode.objects.exists()


def test_manual_delivery_refuses_other_suppliers_bad_input_and_closed_orders(agent):
    _, order = submitted(sandbox("slow", async_rate=1))
    with pytest.raises(exceptions.NotManualOrder):
        interventions.manual_order_deliver(
            supplier_order=order, codes=[{"code": "X-1"}], tracking=None, actor=Actor.staff(agent)
        )

    merchant, reward = shop(manual("hands"))
    member_make(merchant, "cust-2", points=POINTS, country="US")
    mine = redeem(merchant, reward, member="cust-2")
    dispatch.process_due(now=timezone.now())
    order = order_of(mine)
    with pytest.raises(DomainError, match="code"):
        interventions.manual_order_deliver(
            supplier_order=order, codes=None, tracking=None, actor=Actor.staff(agent)
        )
    with pytest.raises(DomainError, match="One code per unit"):
        interventions.manual_order_deliver(
            supplier_order=order,
            codes=[{"code": "A"}, {"code": "B"}],
            tracking=None,
            actor=Actor.staff(agent),
        )
    with pytest.raises(DomainError, match="carrier"):
        interventions.manual_order_deliver(
            supplier_order=order, codes=None, tracking={"number": "1"}, actor=Actor.staff(agent)
        )
    interventions.redemption_cancel(redemption=mine, reason="member left", actor=Actor.staff(agent))
    with pytest.raises(exceptions.NotManualOrder):
        interventions.manual_order_deliver(
            supplier_order=order, codes=[{"code": "A"}], tracking=None, actor=Actor.staff(agent)
        )
    assert not DeliveredCode.objects.exists()
    assert not Shipment.objects.exists()
    assert Redemption.objects.get(pk=mine.pk).status == "cancelled"


# -- codes and suppliers -------------------------------------------------------------------


def test_code_reveal_returns_the_code_and_records_who_saw_it(agent):
    merchant, reward = shop(sandbox("good"))
    redemption = redeem(merchant, reward)
    dispatch.process_due(now=timezone.now())
    code = DeliveredCode.objects.get(redemption=redemption)

    clear = code_reveals.code_reveal(code=code, via="admin", actor=Actor.staff(agent))

    assert clear.code == code.code
    assert clear.pin == code.pin
    assert code.code not in repr(clear)
    reveal = CodeReveal.objects.get()
    assert (reveal.code, reveal.user, reveal.via) == (code, agent, "admin")
    with pytest.raises(ValueError, match="via"):
        code_reveals.code_reveal(code=code, via="email", actor=Actor.staff(agent))


def test_supplier_activate_clears_the_pause_alert(agent):
    supplier = sandbox("paused")
    Supplier.objects.filter(pk=supplier.pk).update(is_active=False)
    alert_raise(kind=AlertKind.SUPPLIER_PAUSED, subject=f"supplier:{supplier.pk}", message="x")

    assert interventions.supplier_activate(supplier=supplier, actor=Actor.staff(agent)) is True

    supplier.refresh_from_db()
    assert supplier.is_active
    alert = CatalogAlert.objects.get()
    assert alert.resolved_at is not None
    assert alert.resolved_by == agent
    assert interventions.supplier_activate(supplier=supplier, actor=Actor.staff(agent)) is False
