"""WooCommerce's webhooks, from its documented order and customer resources."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from integrations.models import InboxDelivery, InboxStatus
from loyalty.models import Member, NonMemberOrder, Order, Refund
from tests.conftest import assert_problem
from tests.integrations.helpers import connected_store, member_of, sample, woo_post

ORDER = "727"


def member_order(**changes):
    """The documented order, placed by customer 25 (the sample is a guest's)."""
    payload = sample("woocommerce/order.json")
    payload["customer_id"] = 25
    payload.update(changes)
    return payload


@pytest.fixture
def shop(merchant):
    return connected_store(merchant, "woocommerce")


def test_the_unsigned_ping_gets_a_200_and_is_not_stored(shop):
    store, _ = shop
    response = APIClient().post(
        f"/api/v1/integrations/woocommerce/{store.public_id}/webhooks/",
        "webhook_id=12",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert response.json() == {"status": "pong"}
    assert not InboxDelivery.objects.exists()


def test_an_unsigned_json_body_is_not_a_ping(shop):
    store, _ = shop
    assert_problem(woo_post(store, None, "order.created", member_order()), 401, "invalid_signature")


def test_a_processing_order_earns_on_its_items_and_creates_the_member(merchant, shop, deliver):
    store, secret = shop
    response = deliver(woo_post, store, secret, "order.created", member_order())
    assert response.json()["status"] == "accepted"
    order = Order.objects.get(merchant=merchant, external_id=ORDER)
    # 29.35 paid: 1.35 tax and 10.00 shipping do not earn, 18.00 does.
    assert order.total == Decimal("18.00")
    assert order.points_earned == 18
    assert [(line.sku, line.quantity, line.unit_price) for line in order.lines.order_by("id")] == [
        ("", 2, Decimal("3.00")),
        ("Bar3", 1, Decimal("12.00")),
    ]
    member = member_of(merchant, 25)
    assert (member.email, member.first_name, member.country) == (
        "john.doe@example.com",
        "John",
        "US",
    )
    assert order.placed_at.isoformat() == "2017-03-22T19:28:02+00:00"


def test_a_guest_order_is_a_non_member_order(merchant, shop, deliver):
    store, secret = shop
    deliver(woo_post, store, secret, "order.created", sample("woocommerce/order.json"))
    guest = NonMemberOrder.objects.get(merchant=merchant)
    assert (guest.external_id, guest.total) == (ORDER, Decimal("29.35"))
    assert not Member.objects.filter(merchant=merchant).exists()


def test_a_pending_order_waits_for_payment(merchant, shop, deliver):
    store, secret = shop
    deliver(woo_post, store, secret, "order.created", member_order(status="pending"))
    assert InboxDelivery.objects.get(store=store).outcome == "Status pending: earns once paid."
    assert not Order.objects.exists()
    deliver(woo_post, store, secret, "order.updated", member_order(status="processing"))
    assert Order.objects.get(merchant=merchant).points_earned == 18


def test_refunds_in_updates_are_taken_back_once_each(merchant, shop, deliver):
    store, secret = shop
    deliver(woo_post, store, secret, "order.created", member_order())
    first = member_order(refunds=[{"id": 801, "reason": "", "total": "-14.675"}])
    deliver(woo_post, store, secret, "order.updated", first)
    # Half of 29.35 back: half of the 18.00 that earned.
    assert Refund.objects.get(external_id="woo-refund-801").amount == Decimal("9.00")
    assert member_of(merchant, 25).points_balance == 9
    # The same update again (another delivery), then one with a second refund.
    deliver(woo_post, store, secret, "order.updated", first)
    both = member_order(
        refunds=[
            {"id": 802, "reason": "", "total": "-5.87"},
            {"id": 801, "reason": "", "total": "-14.675"},
        ]
    )
    deliver(woo_post, store, secret, "order.updated", both)
    assert sorted(Refund.objects.values_list("external_id", flat=True)) == [
        "woo-refund-801",
        "woo-refund-802",
    ]
    assert Refund.objects.get(external_id="woo-refund-802").amount == Decimal("3.60")
    order = Order.objects.get(merchant=merchant)
    assert order.refunded_total == Decimal("12.60")
    assert member_of(merchant, 25).points_balance == 18 - order.points_reversed


def test_a_cancelled_order_takes_back_the_rest(merchant, shop, deliver):
    store, secret = shop
    deliver(woo_post, store, secret, "order.created", member_order())
    deliver(woo_post, store, secret, "order.updated", member_order(status="cancelled"))
    order = Order.objects.get(merchant=merchant)
    assert order.refunded_total == order.total
    assert member_of(merchant, 25).points_balance == 0


def test_customers_are_upserted(merchant, shop, deliver):
    store, secret = shop
    deliver(woo_post, store, secret, "customer.created", sample("woocommerce/customer.json"))
    member = member_of(merchant, 25)
    assert (member.email, member.last_name, member.country) == ("john.doe@example.com", "Doe", "US")
    changed = sample("woocommerce/customer.json")
    changed["last_name"] = "Roe"
    deliver(woo_post, store, secret, "customer.updated", changed)
    member.refresh_from_db()
    assert member.last_name == "Roe"


def test_a_wrong_signature_is_refused(merchant, shop):
    store, _ = shop
    response = woo_post(store, "wrong", "order.created", member_order())
    assert_problem(response, 401, "invalid_signature")
    assert not InboxDelivery.objects.exists()


def test_redelivery_with_the_same_id_is_a_duplicate(merchant, shop, deliver):
    store, secret = shop
    deliver(woo_post, store, secret, "order.created", member_order(), delivery_id="d-1")
    again = deliver(woo_post, store, secret, "order.created", member_order(), delivery_id="d-1")
    assert again.json()["status"] == "duplicate"
    assert InboxDelivery.objects.filter(status=InboxStatus.PROCESSED).count() == 1
