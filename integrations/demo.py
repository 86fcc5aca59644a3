"""Demo deliveries: each live merchant's Shopify or WooCommerce store receives a few
webhooks, as its platform would send them, processed through the inbox, so that the inbox
and the connection page show each outcome (earned, refunded, ignored, a non-member
order, a member created). Before them, each live merchant's active stores have a few
hours of orders behind them, one every few minutes, so that the stores list shows their
rhythm; the outlet of Maison Lumière stopped sending hours ago, so the home's "silent
stores" card has a store to show."""

import datetime
import json
from decimal import Decimal
from typing import Any, TextIO

from django.utils import timezone

from integrations.models import InboxDelivery
from integrations.services import delivery_process
from merchants.models import MerchantStatus, Platform, Store
from merchants.services.stores import store_event_record

# The demo store that went quiet, and for how long.
SILENT_DOMAIN = "outlet.maison-lumiere.fr"
SILENT_FOR = datetime.timedelta(hours=5)


def _at(hours: float) -> str:
    return (timezone.now() - datetime.timedelta(hours=hours)).isoformat(timespec="seconds")


def _line(line_id: int, sku: str, price: str, quantity: int = 1) -> dict[str, Any]:
    return {"id": line_id, "sku": sku, "price": price, "quantity": quantity}


def _shopify_order(
    number: int, currency: str, lines: list, customer: dict | None, status: str
) -> dict:
    total = sum((Decimal(line["price"]) * line["quantity"] for line in lines), Decimal(0))
    return {
        "id": 5_100_000_000_000 + number,
        "name": f"#{1000 + number}",
        "currency": currency,
        "total_price": f"{total + 5:f}",
        "total_tax": "0.00",
        "total_shipping_price_set": {"shop_money": {"amount": "5", "currency_code": currency}},
        "financial_status": status,
        "fulfillment_status": None,
        "cancelled_at": None,
        "processed_at": _at(30 - number),
        "customer": customer,
        "line_items": lines,
    }


def _shopify(store: Store, currency: str) -> list[tuple[str, dict]]:
    lena = {
        "id": 7_700_000_001,
        "email": "lena.berg@example.com",
        "first_name": "Lena",
        "last_name": "Berg",
        "default_address": {"country_code": store.merchant.country.code},
        "email_marketing_consent": {"state": "subscribed"},
    }
    paid = _shopify_order(
        1,
        currency,
        [_line(1, "TENT-2P", "180.00"), _line(2, "MUG-ENAMEL", "12.00", 2)],
        lena,
        "paid",
    )
    return [
        ("customers/create", lena),
        ("orders/create", {**paid, "financial_status": "pending"}),
        ("orders/paid", paid),
        (
            "refunds/create",
            {
                "id": 9_300_000_001,
                "order_id": paid["id"],
                "refund_line_items": [
                    {"line_item_id": 2, "quantity": 2, "subtotal": "24.00", "total_tax": "0"}
                ],
                "transactions": [{"kind": "refund", "status": "success", "amount": "24.00"}],
            },
        ),
        (
            "orders/paid",
            _shopify_order(2, currency, [_line(3, "SOCKS-WOOL", "19.00")], None, "paid"),
        ),
        ("products/update", {"id": 788032119674292922, "title": "Enamel mug"}),
    ]


def _woocommerce(store: Store, currency: str) -> list[tuple[str, dict]]:
    billing = {
        "first_name": "Camille",
        "last_name": "Roux",
        "email": "camille.roux@example.com",
        "country": store.merchant.country.code,
    }
    order = {
        "id": 4211,
        "status": "processing",
        "currency": currency,
        "total": "86.40",
        "total_tax": "14.40",
        "shipping_total": "0.00",
        "customer_id": 318,
        "billing": billing,
        "date_created_gmt": _at(20)[:19],
        "line_items": [{"id": 1, "sku": "BOUGIE-AMBRE", "quantity": 2, "total": "36.00"}],
        "refunds": [],
    }
    return [
        ("customer.created", {"id": 318, "email": billing["email"], **billing}),
        ("order.created", order),
        ("order.updated", {**order, "refunds": [{"id": 4290, "total": "-43.20"}]}),
        ("order.created", {**order, "id": 4212, "customer_id": 0, "status": "completed"}),
    ]


PLATFORMS = {Platform.SHOPIFY: _shopify, Platform.WOOCOMMERCE: _woocommerce}
TOPIC_HEADERS = {Platform.SHOPIFY: "X-Shopify-Topic", Platform.WOOCOMMERCE: "X-WC-Webhook-Topic"}


def _seed_rhythms(out: TextIO) -> None:
    """Thirty events seven minutes apart for each live merchant's active store, ending
    two minutes ago (hours ago for the silent one). A store that already has events keeps
    its own: an earlier event teaches it nothing."""
    now = timezone.now()
    stores = Store.objects.filter(merchant__status=MerchantStatus.LIVE, is_active=True)
    for store in stores.order_by("pk"):
        last = now - (
            SILENT_FOR if store.domain == SILENT_DOMAIN else datetime.timedelta(minutes=2)
        )
        for number in range(30):
            store_event_record(store=store, at=last - (29 - number) * datetime.timedelta(minutes=7))
    hours = SILENT_FOR // datetime.timedelta(hours=1)
    out.write(f"Demo store traffic: {stores.count()} stores; {SILENT_DOMAIN} silent {hours} h.\n")


def seed(*, out: TextIO) -> None:
    _seed_rhythms(out)
    made = 0
    stores = Store.objects.filter(
        merchant__status=MerchantStatus.LIVE, platform__in=list(PLATFORMS), is_active=True
    ).select_related("merchant")
    for store in stores.order_by("pk"):
        if InboxDelivery.objects.filter(store=store).exists():
            continue
        currency = store.merchant.default_currency
        for number, (topic, payload) in enumerate(PLATFORMS[store.platform](store, currency)):
            delivery = InboxDelivery.objects.create(
                merchant=store.merchant,
                store=store,
                platform=store.platform,
                topic=topic,
                delivery_id=f"demo-{store.pk}-{number}",
                headers={TOPIC_HEADERS[store.platform]: topic},
                body=json.dumps(payload),
            )
            delivery_process(delivery_id=delivery.pk)
            made += 1
    out.write(f"Demo webhooks: {made} deliveries through the inbox of {stores.count()} stores.\n")
