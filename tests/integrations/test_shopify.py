"""Shopify's webhooks, from its published sample payloads, signed as Shopify signs them."""

import datetime
import json
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from core.money import points_share
from customercare.models import Ticket, TicketAttachment
from integrations.models import InboxDelivery, InboxStatus
from loyalty.models import LedgerEntry, Member, MemberStatus, NonMemberOrder, Order, Refund
from merchants.services.stores import store_set_webhook_secret
from tests.conftest import assert_problem
from tests.integrations.helpers import (
    SYSTEM,
    connected_store,
    member_of,
    sample,
    shopify_post,
)
from tests.loyalty.factories import program_merchant

CUSTOMER = 115310627314723954
ORDER = "820982911946154508"


def paid_order(**changes):
    payload = sample("shopify/orders_create.json")
    payload["financial_status"] = "paid"
    payload.update(changes)
    return payload


@pytest.fixture
def shop(merchant):
    return connected_store(merchant, "shopify")


def test_paid_order_earns_on_the_total_less_shipping_and_creates_the_member(
    merchant, shop, deliver
):
    store, secret = shop
    response = deliver(shopify_post, store, secret, "orders/create", paid_order())
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    order = Order.objects.get(merchant=merchant, external_id=ORDER)
    # 404.95 paid, 10.00 of it shipping, no tax: 394.95 earns at 1 point per dollar.
    assert order.total == Decimal("394.95")
    assert order.points_earned == 394
    assert order.store == store
    assert sorted(order.lines.values_list("sku", flat=True)) == sorted(
        ["SKU2006-001", "LENS-PROTECT-2YR", "CASE-LEATHER-PREM", "SKU2006-020", "SKU2006-035"]
    )
    member = member_of(merchant, CUSTOMER)
    assert (member.email, member.first_name, member.country) == ("john@example.com", "John", "CA")
    assert member.points_balance == 394
    delivery = InboxDelivery.objects.get(store=store)
    assert delivery.status == InboxStatus.PROCESSED
    assert delivery.outcome == "Earned 394 points."
    assert delivery.result["order"] == ORDER
    assert delivery.headers["X-Shopify-Topic"] == "orders/create"
    assert "X-Shopify-Hmac-Sha256" not in delivery.headers


def test_the_same_delivery_twice_changes_nothing(merchant, shop, deliver):
    store, secret = shop
    first = deliver(shopify_post, store, secret, "orders/create", paid_order(), event_id="ev-1")
    again = deliver(shopify_post, store, secret, "orders/create", paid_order(), event_id="ev-1")
    assert first.json()["status"] == "accepted"
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert InboxDelivery.objects.filter(store=store).count() == 1
    assert LedgerEntry.objects.filter(member__merchant=merchant).count() == 1


def test_create_then_paid_earns_once(merchant, shop, deliver):
    store, secret = shop
    deliver(shopify_post, store, secret, "orders/create", paid_order())
    deliver(shopify_post, store, secret, "orders/paid", paid_order())
    assert Order.objects.filter(merchant=merchant).count() == 1
    assert member_of(merchant, CUSTOMER).points_balance == 394
    second = InboxDelivery.objects.filter(store=store).order_by("id").last()
    assert second.status == InboxStatus.PROCESSED
    assert second.outcome == "The order was recorded before."


def test_an_order_the_store_api_sent_under_the_same_id_is_not_earned_twice(merchant, shop, deliver):
    from loyalty.services import orders

    store, secret = shop
    orders.order_record(
        merchant=merchant,
        data=orders.OrderInput(
            external_id=ORDER,
            member_external_id=str(CUSTOMER),
            total=Decimal("404.95"),
            currency="USD",
            placed_at=timezone.now(),
        ),
        actor=SYSTEM,
    )
    deliver(shopify_post, store, secret, "orders/paid", paid_order())
    assert Order.objects.filter(merchant=merchant).count() == 1
    assert member_of(merchant, CUSTOMER).points_balance == 404
    assert InboxDelivery.objects.get(store=store).outcome == "The order was recorded before."


def test_refund_of_one_line_takes_back_its_share(merchant, shop, deliver):
    store, secret = shop
    deliver(shopify_post, store, secret, "orders/create", paid_order())
    deliver(shopify_post, store, secret, "refunds/create", sample("shopify/refunds_create.json"))
    refund = Refund.objects.get(merchant=merchant)
    assert refund.external_id == "shopify-refund-890088186047892319"
    assert refund.amount == Decimal("89.99")
    expected = points_share(394, Decimal("89.99"), Decimal("394.95"))
    assert refund.points_reversed == expected == 90
    assert member_of(merchant, CUSTOMER).points_balance == 394 - 90
    # The refund delivered again (Shopify retries): nothing more.
    deliver(shopify_post, store, secret, "refunds/create", sample("shopify/refunds_create.json"))
    assert Refund.objects.filter(merchant=merchant).count() == 1
    assert member_of(merchant, CUSTOMER).points_balance == 304


def test_refunds_in_parts_then_a_cancel_take_back_exactly_what_was_earned(merchant, shop, deliver):
    store, secret = shop
    deliver(shopify_post, store, secret, "orders/create", paid_order())
    for number, line_id in enumerate((487817672276298554, 976318377106520349), start=1):
        refund = sample("shopify/refunds_create.json")
        refund["id"] = number
        refund["refund_line_items"][0]["line_item_id"] = line_id
        refund["refund_line_items"][0]["subtotal"] = Decimal("89.99") if number == 1 else 159.99
        deliver(
            shopify_post,
            store,
            secret,
            "refunds/create",
            json.loads(json.dumps(refund, default=str)),
        )
    # Cumulative: what the two refunds together are worth, half up.
    taken = points_share(394, Decimal("89.99") + Decimal("159.99"), Decimal("394.95"))
    assert member_of(merchant, CUSTOMER).points_balance == 394 - taken == 145
    cancelled = paid_order(cancelled_at="2022-01-02T10:00:00-05:00", financial_status="refunded")
    deliver(shopify_post, store, secret, "orders/cancelled", cancelled)
    order = Order.objects.get(merchant=merchant, external_id=ORDER)
    assert order.refunded_total == order.total
    assert order.points_reversed == 394
    assert member_of(merchant, CUSTOMER).points_balance == 0


def test_a_refund_of_an_amount_alone_is_scaled_to_what_earned(merchant, shop, deliver):
    store, secret = shop
    deliver(shopify_post, store, secret, "orders/create", paid_order())
    refund = sample("shopify/refunds_create.json")
    refund["refund_line_items"] = []
    refund["transactions"][0]["amount"] = "80.99"
    deliver(shopify_post, store, secret, "refunds/create", refund)
    # 80.99 of 404.95 paid, of which 394.95 earned: 78.99 earned.
    assert Refund.objects.get(merchant=merchant).amount == Decimal("78.99")


def test_an_unpaid_order_is_ignored_until_paid(merchant, shop, deliver):
    store, secret = shop
    deliver(shopify_post, store, secret, "orders/create", sample("shopify/orders_create.json"))
    delivery = InboxDelivery.objects.get(store=store)
    assert delivery.status == InboxStatus.IGNORED
    assert delivery.outcome == "Payment voided: earns once paid."
    assert not Order.objects.filter(merchant=merchant).exists()
    deliver(shopify_post, store, secret, "orders/paid", paid_order())
    assert Order.objects.filter(merchant=merchant).count() == 1


def test_a_store_that_earns_on_fulfilment_waits_for_it(merchant, deliver):
    store, secret = connected_store(merchant, "shopify", earn_on="fulfilled", earn_on_shipping=True)
    deliver(shopify_post, store, secret, "orders/paid", paid_order())
    assert not Order.objects.filter(merchant=merchant).exists()
    assert InboxDelivery.objects.get(store=store).outcome == (
        "Fulfillment unfulfilled: earns once fulfilled."
    )
    deliver(
        shopify_post, store, secret, "orders/fulfilled", paid_order(fulfillment_status="fulfilled")
    )
    # Shipping earns at this store: all 404.95.
    assert Order.objects.get(merchant=merchant).total == Decimal("404.95")


def test_tax_earns_only_where_the_store_says_so(merchant, deliver):
    with_tax, secret = connected_store(merchant, "shopify", earn_on_tax=True)
    order = paid_order(total_price="110.00", total_tax="10.00")
    order["total_shipping_price_set"]["shop_money"]["amount"] = "0.00"
    deliver(shopify_post, with_tax, secret, "orders/paid", order)
    assert Order.objects.get(merchant=merchant).total == Decimal("110.00")
    other, _ = program_merchant()
    without_tax, secret = connected_store(other, "shopify")
    deliver(shopify_post, without_tax, secret, "orders/paid", order)
    assert Order.objects.get(merchant=other).total == Decimal("100.00")


def test_an_order_without_a_customer_is_a_non_member_order(merchant, shop, deliver):
    store, secret = shop
    deliver(shopify_post, store, secret, "orders/paid", paid_order(customer=None))
    guest = NonMemberOrder.objects.get(merchant=merchant)
    assert (guest.external_id, guest.total, guest.currency) == (ORDER, Decimal("404.95"), "USD")
    assert guest.store == store
    assert not Member.objects.filter(merchant=merchant).exists()
    assert InboxDelivery.objects.get(store=store).outcome == "Non-member order recorded."


@pytest.mark.parametrize(
    ("code", "total", "shipping", "points"),
    [("JPY", "12000", "0", 12000), ("KWD", "12.345", "0.000", 12)],
)
def test_currencies_with_0_and_3_decimals(code, total, shipping, points, db, deliver):
    merchant, _ = program_merchant(currency=code)
    store, secret = connected_store(merchant, "shopify")
    order = paid_order(currency=code, total_price=total, total_tax="0")
    order["total_shipping_price_set"]["shop_money"]["amount"] = shipping
    for line in order["line_items"]:
        line["price"] = total
    deliver(shopify_post, store, secret, "orders/paid", order)
    recorded = Order.objects.get(merchant=merchant)
    assert recorded.currency == code
    assert recorded.total == Decimal(total)
    assert recorded.points_earned == points


def test_customers_create_and_update_upsert_the_member(merchant, shop, deliver):
    store, secret = shop
    deliver(
        shopify_post, store, secret, "customers/create", sample("shopify/customers_create.json")
    )
    member = member_of(merchant, 706405506930370084)
    assert (member.email, member.first_name, member.last_name) == (
        "bob@biller.com",
        "Bob",
        "Biller",
    )
    update = sample("shopify/customers_create.json")
    update.update(first_name="Robert", email=None, email_marketing_consent={"state": "subscribed"})
    deliver(shopify_post, store, secret, "customers/update", update)
    member.refresh_from_db()
    # A payload without the email (not given, or withheld) leaves the member's as it was.
    assert (member.first_name, member.email, member.marketing_consent) == (
        "Robert",
        "bob@biller.com",
        True,
    )


def test_a_customer_without_an_email_becomes_a_member_without_one(merchant, shop, deliver):
    store, secret = shop
    customer = sample("shopify/customers_create.json")
    customer["email"] = None
    deliver(shopify_post, store, secret, "customers/create", customer)
    assert member_of(merchant, 706405506930370084).email == ""


def test_an_unknown_topic_is_stored_and_ignored(merchant, shop, deliver):
    store, secret = shop
    response = deliver(shopify_post, store, secret, "products/update", {"id": 1})
    assert response.status_code == 200
    delivery = InboxDelivery.objects.get(store=store)
    assert delivery.status == InboxStatus.IGNORED
    assert delivery.outcome == "The topic 'products/update' is not one we use."


# -- signatures ------------------------------------------------------------------------------


def test_a_wrong_signature_is_a_401_and_stores_nothing(merchant, shop, deliver):
    store, _ = shop
    response = deliver(shopify_post, store, "not-the-secret", "orders/paid", paid_order())
    assert_problem(response, 401, "invalid_signature")
    assert response["WWW-Authenticate"]
    missing = deliver(shopify_post, store, None, "orders/paid", paid_order())
    assert_problem(missing, 401, "invalid_signature")
    assert not InboxDelivery.objects.exists()
    assert not Order.objects.exists()


def test_a_signature_over_another_body_is_refused(merchant, shop):
    store, secret = shop
    from integrations.signatures import body_signature

    signed_for = json.dumps(paid_order(total_price="1.00")).encode()
    response = shopify_post(
        store,
        None,
        "orders/paid",
        paid_order(),
        HTTP_X_SHOPIFY_HMAC_SHA256=body_signature(signed_for, secret),
    )
    assert_problem(response, 401, "invalid_signature")


def test_bad_signatures_are_throttled_per_address(merchant, shop, settings):
    store, secret = shop
    cache.clear()
    settings.API_AUTH_FAILURE_RATE = (3, 60)
    for _ in range(3):
        assert shopify_post(store, "wrong", "orders/paid", paid_order()).status_code == 401
    throttled = shopify_post(store, secret, "orders/paid", paid_order())
    assert_problem(throttled, 429, "throttled")
    assert not InboxDelivery.objects.exists()
    cache.clear()


def test_the_previous_secret_verifies_for_an_hour_after_a_rotation(merchant, shop, deliver):
    store, old = shop
    new = store_set_webhook_secret(store=store, actor=SYSTEM)
    store.refresh_from_db()
    assert deliver(shopify_post, store, old, "orders/paid", paid_order()).status_code == 200
    assert deliver(shopify_post, store, new, "customers/create", {"id": 5}).status_code == 200
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=61)):
        late = shopify_post(store, old, "orders/paid", paid_order())
        assert_problem(late, 401, "invalid_signature")
        assert shopify_post(store, new, "customers/update", {"id": 5}).status_code == 200


# -- bad requests ------------------------------------------------------------------------------


def test_another_platforms_store_or_an_unknown_id_is_a_404(merchant, deliver):
    woo, secret = connected_store(merchant, "woocommerce")
    assert_problem(shopify_post(woo, secret, "orders/paid", paid_order()), 404, "not_found")
    woo.public_id = "00000000-0000-0000-0000-000000000000"
    assert_problem(shopify_post(woo, secret, "orders/paid", paid_order()), 404, "not_found")
    from rest_framework.test import APIClient

    response = APIClient().post(
        "/api/v1/integrations/shopify/not-a-uuid/webhooks/", b"{}", content_type="application/json"
    )
    assert_problem(response, 404, "not_found")


def test_an_inactive_store_is_a_404(merchant, shop):
    store, secret = shop
    store.is_active = False
    store.save(update_fields=["is_active"])
    assert_problem(shopify_post(store, secret, "orders/paid", paid_order()), 404, "not_found")


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", b'{"a": "\x00"}'])
def test_a_signed_body_that_is_not_a_json_object_is_a_400(merchant, shop, body):
    store, secret = shop
    response = shopify_post(store, secret, "orders/paid", body)
    assert_problem(response, 400, "invalid_delivery")
    assert not InboxDelivery.objects.exists()


def test_missing_topic_or_delivery_id_is_a_400(merchant, shop):
    store, secret = shop
    no_topic = shopify_post(store, secret, "", paid_order())
    assert_problem(no_topic, 400, "invalid_delivery")
    no_id = shopify_post(
        store,
        secret,
        "orders/paid",
        paid_order(),
        HTTP_X_SHOPIFY_EVENT_ID="",
        HTTP_X_SHOPIFY_WEBHOOK_ID="",
    )
    assert_problem(no_id, 400, "invalid_delivery")


def test_a_body_too_large_is_a_413(merchant, shop, settings):
    store, secret = shop
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = shopify_post(store, secret, "orders/paid", paid_order())
    assert_problem(response, 413, "request_too_large")


def test_a_payload_missing_what_its_topic_needs_fails_visibly(merchant, shop, deliver):
    store, secret = shop
    deliver(shopify_post, store, secret, "orders/paid", {"id": 1, "currency": "ZZZ"})
    delivery = InboxDelivery.objects.get(store=store)
    assert delivery.status == InboxStatus.FAILED
    assert delivery.outcome == "The currency 'ZZZ' is not an ISO 4217 code."
    assert delivery.attempts == 1


# -- privacy ------------------------------------------------------------------------------------


def test_data_request_opens_a_ticket_with_the_members_data(merchant, shop, deliver):
    store, secret = shop
    deliver(
        shopify_post,
        store,
        secret,
        "orders/paid",
        paid_order(customer={"id": 191167, "email": "john@example.com"}),
    )
    deliver(
        shopify_post,
        store,
        secret,
        "customers/data_request",
        sample("shopify/customers_data_request.json"),
    )
    ticket = Ticket.objects.get(merchant=merchant)
    assert ticket.member.external_id == "191167"
    assert ticket.subject == "Data request from Shopify shop (Shopify)"
    attachment = TicketAttachment.objects.get(message__ticket=ticket)
    exported = json.loads(attachment.file.read())
    assert exported["profile"]["email"] == "john@example.com"
    assert [o["external_id"] for o in exported["orders"]] == [ORDER]
    assert exported["points"]["balance"] == 394
    delivery = InboxDelivery.objects.get(store=store, topic="customers/data_request")
    assert delivery.result["ticket"] == ticket.reference
    # Replayed by staff: no second ticket.
    from integrations.services import delivery_process

    delivery_process(delivery_id=delivery.pk)
    assert Ticket.objects.filter(merchant=merchant).count() == 1


def test_redact_anonymises_the_member_and_keeps_the_ledger(merchant, shop, deliver):
    store, secret = shop
    deliver(
        shopify_post,
        store,
        secret,
        "orders/paid",
        paid_order(customer={"id": 191167, "email": "john@example.com"}),
    )
    deliver(
        shopify_post, store, secret, "customers/redact", sample("shopify/customers_redact.json")
    )
    member = member_of(merchant, 191167)
    assert member.status == MemberStatus.ANONYMISED
    assert member.email == ""
    assert member.points_balance == 394
    again = deliver(
        shopify_post, store, secret, "customers/redact", sample("shopify/customers_redact.json")
    )
    assert again.status_code == 200
    assert InboxDelivery.objects.filter(status=InboxStatus.IGNORED).get().outcome == (
        "The member was anonymised before."
    )


def test_shop_redact_deactivates_the_store_and_erases_its_members(merchant, shop, deliver):
    store, secret = shop
    deliver(shopify_post, store, secret, "orders/paid", paid_order())
    deliver(shopify_post, store, secret, "shop/redact", sample("shopify/shop_redact.json"))
    store.refresh_from_db()
    assert not store.is_active
    assert member_of(merchant, CUSTOMER).status == MemberStatus.ANONYMISED
    # Later deliveries to it are refused.
    assert shopify_post(store, secret, "orders/paid", paid_order()).status_code == 404
