"""What the store API tests of the loyalty app share."""

import json
from decimal import Decimal
from typing import Any

from core.actors import SYSTEM
from loyalty.models import Activity, LedgerEntry, Member, Order, OrderLine, PointLot, Refund
from loyalty.services import programs

PROGRAM_TERMS: dict[str, Any] = {
    "name": "P",
    "points_name": "Stars",
    "point_value": Decimal("0.01"),
    "base_earn_rate": Decimal("1"),
    "pending_days": 14,
}


def program_for(merchant, **terms):
    return programs.program_configure(merchant=merchant, actor=SYSTEM, **{**PROGRAM_TERMS, **terms})


def db_state() -> dict[str, list[dict]]:
    """Every row a bad request could touch, so "nothing changed" is a plain comparison."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Member, Order, OrderLine, Refund, Activity, LedgerEntry, PointLot)
    }


def post_json(client, url: str, body: Any, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)
