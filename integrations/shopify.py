"""Shopify's webhooks: verification and payloads (pure).

- Signature: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw body, keyed
  with the webhook secret.
- Delivery id: ``X-Shopify-Event-Id``, which every delivery of one merchant action shares
  (retries and several subscriptions alike), else ``X-Shopify-Webhook-Id``.
- Amounts: the shop's currency (``currency``, ``total_price``, the ``shop_money`` of the
  ``…_set`` fields), never the presentment currency the shopper saw.
- An order earns when paid (``financial_status`` paid, or partly refunded after that) or,
  if the store says so, when fulfilled (``fulfillment_status`` fulfilled); never once
  cancelled.
"""

from decimal import Decimal
from typing import Any

from core.money import quantize_money
from integrations import mapping
from integrations.mapping import (
    Customer,
    Line,
    PayloadError,
    PlatformOrder,
    PlatformRefund,
    StoreTerms,
)

SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
DELIVERY_HEADERS = ("X-Shopify-Event-Id", "X-Shopify-Webhook-Id")
KEPT_HEADERS = (
    "X-Shopify-Topic",
    "X-Shopify-Shop-Domain",
    "X-Shopify-API-Version",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Event-Id",
    "X-Shopify-Triggered-At",
)

ORDER_TOPICS = frozenset({"orders/create", "orders/paid", "orders/updated", "orders/fulfilled"})
TOPICS = ORDER_TOPICS | {
    "orders/cancelled",
    "refunds/create",
    "customers/create",
    "customers/update",
    "customers/data_request",
    "customers/redact",
    "shop/redact",
}

PAID = frozenset({"paid", "partially_refunded", "refunded"})


def _shop_money(value: Any, what: str) -> Decimal:
    if value is None:
        return Decimal(0)
    shop_money = mapping.obj(mapping.obj(value, what).get("shop_money"), what)
    return mapping.money(shop_money.get("amount"), what)


def customer(payload: dict[str, Any]) -> Customer:
    """A ``customers/*`` payload, or an order's ``customer``."""
    address = payload.get("default_address") or {}
    consent = payload.get("email_marketing_consent") or {}
    fields = mapping.profile(
        email=payload.get("email"),
        first_name=payload.get("first_name"),
        last_name=payload.get("last_name"),
        country=address.get("country_code") if isinstance(address, dict) else None,
    )
    if isinstance(consent, dict) and consent.get("state"):
        fields["marketing_consent"] = consent.get("state") == "subscribed"
    elif isinstance(payload.get("accepts_marketing"), bool):
        fields["marketing_consent"] = payload["accepts_marketing"]
    return Customer(
        external_id=mapping.platform_id(payload.get("id"), "The customer's id"), fields=fields
    )


def _line(item: Any, code: str) -> Line | None:
    item = mapping.obj(item, "A line item")
    count = mapping.quantity(item.get("quantity"), "A line item's quantity")
    if count == 0:
        return None
    price = mapping.money(item.get("price"), "A line item's price")
    discount = sum(
        (
            mapping.money(mapping.obj(a, "A discount").get("amount"), "A discount")
            for a in mapping.items(item.get("discount_allocations"), "discount_allocations")
        ),
        Decimal(0),
    )
    unit = quantize_money(max(price - discount / count, Decimal(0)), code)
    return Line(sku=mapping.text(item.get("sku"), 128), quantity=count, unit_price=unit)


def order(payload: dict[str, Any], terms: StoreTerms) -> PlatformOrder:
    code = mapping.currency(payload.get("currency"))
    gross = mapping.money(payload.get("total_price"), "total_price")
    tax = mapping.money(payload.get("total_tax"), "total_tax")
    if payload.get("total_shipping_price_set") is not None:
        shipping = _shop_money(payload["total_shipping_price_set"], "total_shipping_price_set")
    else:
        shipping = sum(
            (
                mapping.money(mapping.obj(s, "A shipping line").get("price"), "shipping")
                for s in mapping.items(payload.get("shipping_lines"), "shipping_lines")
            ),
            Decimal(0),
        )
    lines = [
        line
        for item in mapping.items(payload.get("line_items"), "line_items")
        if (line := _line(item, code)) is not None
    ]
    financial = mapping.text(payload.get("financial_status"), 40)
    fulfillment = mapping.text(payload.get("fulfillment_status"), 40)
    cancelled = bool(payload.get("cancelled_at"))
    if terms.earn_on == "fulfilled":
        earns, status = fulfillment == "fulfilled", f"fulfillment {fulfillment or 'unfulfilled'}"
    else:
        earns, status = financial in PAID, f"payment {financial or 'unknown'}"
    raw_customer = payload.get("customer")
    return PlatformOrder(
        external_id=mapping.platform_id(payload.get("id"), "The order's id"),
        customer=customer(raw_customer) if isinstance(raw_customer, dict) else None,
        placed_at=mapping.when(
            payload.get("processed_at") or payload.get("created_at"), "processed_at"
        ),
        currency=code,
        gross=quantize_money(gross, code),
        earnable=mapping.earnable(gross, tax, shipping, terms, code),
        lines=mapping.limited_lines(lines),
        status="cancelled" if cancelled else status,
        earns=earns and not cancelled,
        cancelled=cancelled,
    )


def refund(payload: dict[str, Any], terms: StoreTerms, code: str) -> PlatformRefund:
    """A ``refunds/create`` payload, in the order's currency ``code``: what it gives back
    of what earned, from its lines (their subtotal, and tax when tax earns) and its
    shipping refunds (when shipping earns); a refund of an amount alone (transactions,
    no lines) is known only gross, and the caller scales it."""
    lines_part = Decimal(0)
    refund_lines = mapping.items(payload.get("refund_line_items"), "refund_line_items")
    for item in refund_lines:
        item = mapping.obj(item, "A refund line")
        lines_part += mapping.money(item.get("subtotal"), "A refund line's subtotal")
        if terms.tax_earns:
            lines_part += mapping.money(item.get("total_tax"), "A refund line's tax")
    shipping_part = Decimal(0)
    for adjustment in mapping.items(payload.get("order_adjustments"), "order_adjustments"):
        adjustment = mapping.obj(adjustment, "An order adjustment")
        if adjustment.get("kind") != "shipping_refund":
            continue
        # Adjustments are negative: they lower what the order is worth.
        shipping_part -= mapping.money(adjustment.get("amount"), "An adjustment")
        if terms.tax_earns:
            shipping_part -= mapping.money(adjustment.get("tax_amount"), "An adjustment's tax")
    for line in mapping.items(payload.get("refund_shipping_lines"), "refund_shipping_lines"):
        line = mapping.obj(line, "A refunded shipping line")
        shipping_part += _shop_money(line.get("subtotal_amount_set"), "subtotal_amount_set")
    external_id = "shopify-refund-" + mapping.platform_id(payload.get("id"), "The refund's id")
    if refund_lines or shipping_part:
        amount = lines_part + (shipping_part if terms.shipping_earns else Decimal(0))
        return PlatformRefund(external_id=external_id, amount=quantize_money(amount, code))
    gross = sum(
        (
            mapping.money(t.get("amount"), "A transaction's amount")
            for t in (
                mapping.obj(t, "A transaction")
                for t in mapping.items(payload.get("transactions"), "transactions")
            )
            if t.get("kind") == "refund" and t.get("status") in ("success", None)
        ),
        Decimal(0),
    )
    return PlatformRefund(external_id=external_id, amount=None, gross_amount=gross)


def refund_order_id(payload: dict[str, Any]) -> str:
    return mapping.platform_id(payload.get("order_id"), "The refund's order_id")


def privacy_customer(payload: dict[str, Any]) -> str:
    """The customer id of ``customers/data_request`` and ``customers/redact``."""
    raw = payload.get("customer")
    if not isinstance(raw, dict):
        raise PayloadError("The payload names no customer.")
    return mapping.platform_id(raw.get("id"), "The customer's id")
