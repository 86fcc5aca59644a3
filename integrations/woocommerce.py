"""WooCommerce's webhooks: verification and payloads (pure).

- Signature: ``X-WC-Webhook-Signature`` is the base64 HMAC-SHA256 of the raw body, keyed
  with the webhook's secret.
- Delivery id: ``X-WC-Webhook-Delivery-ID``. WooCommerce does not retry a failed delivery
  (it disables the webhook after repeated failures), so answering fast matters more than
  anywhere.
- When a webhook is saved, WooCommerce pings its URL with an unsigned form body
  ``webhook_id=N``; the ping must get a 200 and records nothing.
- Refunds arrive as ``order.updated``: the order's ``refunds`` list holds every refund so
  far (``total`` negative); each is taken back once, by its id.
- Dates: ``date_created_gmt`` is UTC without a zone.
- An order earns when paid (status processing or completed) or, if the store says so,
  when fulfilled (completed).
"""

import re
from decimal import Decimal
from typing import Any

from core.money import quantize_money
from integrations import mapping
from integrations.mapping import Customer, Line, PlatformOrder, PlatformRefund, StoreTerms

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
DELIVERY_HEADERS = ("X-WC-Webhook-Delivery-ID",)
KEPT_HEADERS = (
    "X-WC-Webhook-Topic",
    "X-WC-Webhook-Resource",
    "X-WC-Webhook-Event",
    "X-WC-Webhook-Source",
    "X-WC-Webhook-ID",
    "X-WC-Webhook-Delivery-ID",
)
ORDER_TOPICS = frozenset({"order.created", "order.updated"})
TOPICS = ORDER_TOPICS | {"customer.created", "customer.updated"}

PING = re.compile(rb"webhook_id=\d{1,20}")
PAID = frozenset({"processing", "completed"})
FULFILLED = frozenset({"completed"})
# What takes back all the order earned.
UNDONE = frozenset({"cancelled", "refunded", "failed"})


def is_ping(body: bytes, content_type: str) -> bool:
    return content_type.startswith("application/x-www-form-urlencoded") and bool(
        PING.fullmatch(body.strip())
    )


def customer(payload: dict[str, Any]) -> Customer:
    billing = payload.get("billing") if isinstance(payload.get("billing"), dict) else {}
    return Customer(
        external_id=mapping.platform_id(payload.get("id"), "The customer's id"),
        fields=mapping.profile(
            email=payload.get("email") or billing.get("email"),
            first_name=payload.get("first_name") or billing.get("first_name"),
            last_name=payload.get("last_name") or billing.get("last_name"),
            country=billing.get("country"),
        ),
    )


def _order_customer(payload: dict[str, Any]) -> Customer | None:
    """The order's customer; a guest checkout (``customer_id`` 0) has none."""
    raw_id = payload.get("customer_id")
    if raw_id in (None, 0, "0", ""):
        return None
    billing = payload.get("billing") if isinstance(payload.get("billing"), dict) else {}
    return Customer(
        external_id=mapping.platform_id(raw_id, "The customer_id"),
        fields=mapping.profile(
            email=billing.get("email"),
            first_name=billing.get("first_name"),
            last_name=billing.get("last_name"),
            country=billing.get("country"),
        ),
    )


def _line(item: Any, code: str) -> Line | None:
    item = mapping.obj(item, "A line item")
    count = mapping.quantity(item.get("quantity"), "A line item's quantity")
    if count == 0:
        return None
    # ``total`` is the line after its discounts, before tax.
    total = mapping.money(item.get("total"), "A line item's total")
    return Line(
        sku=mapping.text(item.get("sku"), 128),
        quantity=count,
        unit_price=max(quantize_money(total / count, code), Decimal(0)),
    )


def order(payload: dict[str, Any], terms: StoreTerms) -> PlatformOrder:
    code = mapping.currency(payload.get("currency"))
    gross = mapping.money(payload.get("total"), "total")
    tax = mapping.money(payload.get("total_tax"), "total_tax")
    shipping = mapping.money(payload.get("shipping_total"), "shipping_total")
    earnable = mapping.earnable(gross, tax, shipping, terms, code)
    status = mapping.text(payload.get("status"), 40)
    lines = [
        line
        for item in mapping.items(payload.get("line_items"), "line_items")
        if (line := _line(item, code)) is not None
    ]
    refunds = tuple(
        PlatformRefund(
            external_id="woo-refund-"
            + mapping.platform_id(mapping.obj(r, "A refund").get("id"), "A refund's id"),
            amount=mapping.scaled(
                abs(mapping.money(r.get("total"), "A refund's total")), earnable, gross, code
            ),
        )
        for r in mapping.items(payload.get("refunds"), "refunds")
    )
    earning = FULFILLED if terms.earn_on == "fulfilled" else PAID
    return PlatformOrder(
        external_id=mapping.platform_id(payload.get("id"), "The order's id"),
        customer=_order_customer(payload),
        placed_at=mapping.when(
            payload.get("date_created_gmt"), "date_created_gmt", naive_is_utc=True
        ),
        currency=code,
        gross=quantize_money(gross, code),
        earnable=earnable,
        lines=mapping.limited_lines(lines),
        status=f"status {status or 'unknown'}",
        earns=status in earning,
        cancelled=status in UNDONE,
        refunds=refunds,
    )
