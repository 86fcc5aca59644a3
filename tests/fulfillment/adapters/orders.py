"""Order requests for adapter tests."""

from decimal import Decimal
from typing import Any

from fulfillment.adapters import OrderRequest


def order_request(key: str = "redemption-1:attempt-1", **overrides: Any) -> OrderRequest:
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "supplier_sku": "GIFT-25-US",
        "country": "US",
        "face_value": Decimal("25"),
        "currency": "USD",
        "quantity": 1,
        "recipient": {"email": "member@example.com"},
        "offer_id": 1,
        "reference": "R-1",
    }
    fields.update(overrides)
    return OrderRequest(**fields)
