"""Idempotent recording of what stores send (orders, refunds, activities, redemptions):
a stable digest of a request's meaning, and the replay of an earlier result."""

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loyalty.exceptions import IdempotencyConflict


def _canonical(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"  # 100, 100.00 and 100.0000 are the same amount
    return str(value)


def request_digest(payload: dict[str, Any]) -> str:
    """A stable hash of a request's meaning (keys sorted, Decimals and dates as text)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_canonical)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Recorded:
    """What a write recorded, and whether this call replayed an earlier one."""

    obj: Any
    replayed: bool


def replay(obj: Any, digest: str, what: str) -> Recorded:
    """The earlier result again; a different body under the same external_id is a 409."""
    if obj.request_hash != digest:
        raise IdempotencyConflict(
            f"{what} {obj.external_id} was already recorded with a different body.",
            field="external_id",
        )
    return Recorded(obj=obj, replayed=True)
