"""A simulated gift-card aggregator, in process, for demos and reliability tests.

Settings (all optional): ``latency_ms``; the rates ``failure_rate``, ``timeout_rate``,
``unknown_rate`` and ``async_rate`` (0 to 1; the first three together at most 1);
``terminal_share`` (the part of failures that are terminal, 0.2 unless told); ``seed``.

Each call draws its outcome from a generator seeded with (seed, key, the number of calls
made with that key), so a seeded run gives the same outcomes whatever the thread
interleaving, and a retry with the same key draws afresh. Orders live in one store per
process, keyed by idempotency key and guarded by a lock: a replay returns the stored
order, never a second one. Outcomes of a call with a new key:

- failure: nothing placed, retryable or terminal;
- timeout: nothing placed, retryable;
- unknown: the order IS placed, but the call reports an unknown outcome (``lookup``
  finds it);
- otherwise placed: delivered at once, or (``async_rate``) submitted and delivered at
  the next ``lookup``.
"""

import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from catalog.supplier_settings import Setting, SettingKind, SettingsSchema
from fulfillment.adapters.base import (
    DeliveredCode,
    OrderRequest,
    OrderResult,
    OrderStatus,
    RetryableError,
    SupplierAdapter,
    TerminalError,
    UnknownOutcome,
)

RATES = ("failure_rate", "timeout_rate", "unknown_rate", "async_rate", "terminal_share")
CANCELLED = "cancelled"
DEFAULT_TERMINAL_SHARE = 0.2


def _rate(name: str, help_text: str) -> Setting:
    return Setting(
        name=name, kind=SettingKind.NUMBER, min_value=0, max_value=1, help_text=help_text
    )


def _outcomes_fit(values: dict[str, Any]) -> dict[str, str]:
    if sum(values.get(name, 0) for name in RATES[:3]) > 1:
        return {"failure_rate": "failure_rate + timeout_rate + unknown_rate is at most 1"}
    return {}


SETTINGS = SettingsSchema(
    (
        Setting(
            name="latency_ms",
            kind=SettingKind.INTEGER,
            min_value=0,
            max_value=60_000,
            help_text="Milliseconds each call waits; 0 unless set.",
        ),
        _rate("failure_rate", "Share of new orders refused, nothing placed (0 to 1)."),
        _rate("timeout_rate", "Share of new orders that time out before being sent (0 to 1)."),
        _rate("unknown_rate", "Share of new orders placed but reported as unknown (0 to 1)."),
        _rate("async_rate", "Share of placed orders delivered at the next lookup (0 to 1)."),
        _rate("terminal_share", "Part of the failures that are terminal; 0.2 unless set."),
        Setting(
            name="seed",
            kind=SettingKind.INTEGER,
            help_text="Makes the outcomes repeatable; random unless set.",
        ),
    ),
    check=_outcomes_fit,
)


@dataclass
class SandboxOrder:
    key: str
    ref: str
    status: str  # an OrderStatus value, or CANCELLED
    codes: list[DeliveredCode]
    cost: Decimal
    request: OrderRequest
    lookups: int = 0


@dataclass
class SandboxStore:
    """Every sandbox order of this process. ``placements`` counts the orders created per
    key: a count above 1 would mean something was bought twice."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    orders: dict[str, SandboxOrder] = field(default_factory=dict)
    placements: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        with self.lock:
            self.orders.clear()
            self.placements.clear()
            self.calls.clear()


STORE = SandboxStore()


def sandbox_reset() -> None:
    """Forget every sandbox order (tests start from an empty store)."""
    STORE.reset()


def sandbox_placed_count(idempotency_key: str | None = None) -> int:
    """Orders actually created under this key (0 or 1 unless something is wrong), or
    under every key when none is given."""
    with STORE.lock:
        if idempotency_key is None:
            return sum(STORE.placements.values())
        return STORE.placements[idempotency_key]


def sandbox_placements() -> dict[str, int]:
    """Orders created per key."""
    with STORE.lock:
        return dict(STORE.placements)


class SandboxAdapter(SupplierAdapter):
    name = "sandbox"
    settings_schema = SETTINGS

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.latency_s = self.config.get("latency_ms", 0) / 1000
        self.failure_rate = float(self.config.get("failure_rate", 0))
        self.timeout_rate = float(self.config.get("timeout_rate", 0))
        self.unknown_rate = float(self.config.get("unknown_rate", 0))
        self.async_rate = float(self.config.get("async_rate", 0))
        self.terminal_share = float(self.config.get("terminal_share", DEFAULT_TERMINAL_SHARE))
        self.seed = self.config.get("seed")

    def _rng(self, key: str) -> random.Random:
        with STORE.lock:
            STORE.calls[key] += 1
            call = STORE.calls[key]
        if self.seed is None:
            return random.Random(secrets.randbits(64))  # noqa: S311 (not for security)
        return random.Random(f"{self.seed}:{key}:{call}")  # noqa: S311 (not for security)

    def place(self, request: OrderRequest) -> OrderResult:
        key = request.idempotency_key
        rng = self._rng(key)
        roll, kind_roll, async_roll = rng.random(), rng.random(), rng.random()
        if self.latency_s:
            time.sleep(self.latency_s)
        with STORE.lock:
            order = STORE.orders.get(key)
            if order is not None:
                return _result(order)  # a replay: the order of the first call
            if roll < self.failure_rate:
                if kind_roll < self.terminal_share:
                    return OrderResult.failure(TerminalError("sandbox: the order was refused"))
                return OrderResult.failure(RetryableError("sandbox: the supplier is busy"))
            roll -= self.failure_rate
            if roll < self.timeout_rate:
                return OrderResult.failure(
                    RetryableError("sandbox: timed out before the order was sent")
                )
            roll -= self.timeout_rate
            order = _create(request, rng, submitted=async_roll < self.async_rate)
            if roll < self.unknown_rate:
                return OrderResult.failure(
                    UnknownOutcome("sandbox: timed out after the order was sent")
                )
            return _result(order)

    def lookup(self, idempotency_key: str, supplier_ref: str | None = None) -> OrderResult | None:
        with STORE.lock:
            order = STORE.orders.get(idempotency_key)
            if order is None and supplier_ref:
                order = _by_ref(supplier_ref)
            if order is None:
                return None
            order.lookups += 1
            if order.status == OrderStatus.SUBMITTED:
                order.status = OrderStatus.DELIVERED
            return _result(order)

    def cancel(self, supplier_ref: str) -> bool:
        with STORE.lock:
            order = _by_ref(supplier_ref)
            if order is None or order.status == OrderStatus.DELIVERED:
                return False
            order.status = CANCELLED
            return True


def _create(request: OrderRequest, rng: random.Random, *, submitted: bool) -> SandboxOrder:
    """Store a new order; the caller holds the store's lock."""
    codes = [
        DeliveredCode(
            code=f"SBX-{rng.getrandbits(64):016X}",
            pin=f"{rng.randrange(10000):04d}",
            claim_url=f"https://sandbox.invalid/claim/{rng.getrandbits(48):012x}",
        )
        for _ in range(request.quantity)
    ]
    order = SandboxOrder(
        key=request.idempotency_key,
        ref=f"SBX-ORD-{rng.getrandbits(48):012X}",
        status=OrderStatus.SUBMITTED if submitted else OrderStatus.DELIVERED,
        codes=codes,
        cost=request.face_value * request.quantity,
        request=request,
    )
    STORE.orders[order.key] = order
    STORE.placements[order.key] += 1
    return order


def _by_ref(ref: str) -> SandboxOrder | None:
    return next((order for order in STORE.orders.values() if order.ref == ref), None)


def _result(order: SandboxOrder) -> OrderResult:
    if order.status == CANCELLED:
        return OrderResult.failure(
            TerminalError("sandbox: the order was cancelled"), supplier_ref=order.ref
        )
    if order.status == OrderStatus.SUBMITTED:
        return OrderResult(status=OrderStatus.SUBMITTED, supplier_ref=order.ref, cost=order.cost)
    return OrderResult(
        status=OrderStatus.DELIVERED,
        supplier_ref=order.ref,
        codes=list(order.codes),
        cost=order.cost,
    )
