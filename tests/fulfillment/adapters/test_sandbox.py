"""The sandbox aggregator: seeded outcomes, one order per idempotency key whatever the
failures, and a retry loop that follows the interface's rules never buying twice."""

import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from fulfillment.adapters import AdapterConfigError, OrderResult, adapter_for
from fulfillment.adapters.sandbox import (
    SandboxAdapter,
    sandbox_placed_count,
    sandbox_placements,
    sandbox_reset,
)
from tests.fulfillment.adapters.orders import order_request


@pytest.fixture(autouse=True)
def empty_store() -> Iterator[None]:
    sandbox_reset()
    yield
    sandbox_reset()


def sandbox(**config) -> SandboxAdapter:
    adapter = adapter_for("sandbox", {"seed": 7, **config})
    assert isinstance(adapter, SandboxAdapter)
    return adapter


def test_a_calm_sandbox_delivers_generated_codes_at_once():
    result = sandbox().place(order_request(quantity=2, face_value=Decimal("25")))

    assert result.delivered
    assert len(result.codes) == 2
    assert all(code.code.startswith("SBX-") and code.pin for code in result.codes)
    assert len({code.code for code in result.codes}) == 2
    assert result.supplier_ref.startswith("SBX-ORD-")
    assert result.cost == Decimal("50")
    assert sandbox_placed_count("redemption-1:attempt-1") == 1


def test_placing_again_with_the_same_key_returns_the_first_order():
    adapter = sandbox()
    first = adapter.place(order_request())

    again = adapter.place(order_request())

    assert again == first
    assert sandbox_placed_count("redemption-1:attempt-1") == 1
    assert sandbox_placed_count() == 1


def test_the_same_seed_gives_the_same_outcomes_and_codes():
    config = {"failure_rate": 0.3, "unknown_rate": 0.2, "async_rate": 0.3}

    def run() -> list[OrderResult]:
        sandbox_reset()
        adapter = sandbox(**config)
        return [adapter.place(order_request(key=f"r-{n}:a-1")) for n in range(40)]

    first, second = run(), run()

    assert first == second
    assert len({result.status for result in first}) == 3


def test_failures_place_nothing_and_are_mostly_retryable():
    adapter = sandbox(failure_rate=1)

    results = [adapter.place(order_request(key=f"r-{n}:a-1")) for n in range(300)]

    assert all(result.failed for result in results)
    kinds = [result.error.kind for result in results]
    assert set(kinds) == {"retryable", "terminal"}
    assert 0.1 < kinds.count("terminal") / len(kinds) < 0.3
    assert sandbox_placed_count() == 0


def test_a_timeout_places_nothing_and_is_retryable():
    result = sandbox(timeout_rate=1).place(order_request())

    assert result.failed
    assert result.error.retryable
    assert sandbox_placed_count() == 0
    assert sandbox().lookup("redemption-1:attempt-1") is None


def test_an_unknown_outcome_placed_the_order_and_lookup_finds_it():
    result = sandbox(unknown_rate=1).place(order_request())

    assert result.failed
    assert result.error.unknown
    assert sandbox_placed_count("redemption-1:attempt-1") == 1
    found = sandbox().lookup("redemption-1:attempt-1")
    assert found is not None
    assert found.delivered
    assert found.codes


def test_an_async_order_is_submitted_then_delivered_at_the_next_lookup():
    adapter = sandbox(async_rate=1)

    placed = adapter.place(order_request())
    found = adapter.lookup("redemption-1:attempt-1", placed.supplier_ref)

    assert placed.submitted
    assert placed.codes == []
    assert found.delivered
    assert found.supplier_ref == placed.supplier_ref
    assert found.codes


def test_lookup_finds_an_order_by_its_supplier_ref_too():
    placed = sandbox().place(order_request())

    assert sandbox().lookup("another-key", placed.supplier_ref) == placed


def test_lookup_of_a_key_never_placed_is_none():
    assert sandbox().lookup("r-404:a-1") is None


def test_a_submitted_order_can_be_cancelled_and_then_reads_as_failed():
    adapter = sandbox(async_rate=1)
    placed = adapter.place(order_request())

    assert adapter.cancel(placed.supplier_ref) is True
    found = adapter.lookup("redemption-1:attempt-1")
    assert found.failed
    assert found.error.terminal


def test_a_delivered_or_unknown_order_cannot_be_cancelled():
    placed = sandbox().place(order_request())

    assert sandbox().cancel(placed.supplier_ref) is False
    assert sandbox().cancel("SBX-ORD-NOPE") is False


def test_latency_slows_each_call():
    started = time.monotonic()

    sandbox(latency_ms=60).place(order_request())

    assert time.monotonic() - started >= 0.06


@pytest.mark.parametrize(
    "config",
    [
        {"failure_rate": 1.5},
        {"timeout_rate": -0.1},
        {"failure_rate": 0.6, "unknown_rate": 0.6},
        {"latency_ms": "slow"},
        {"retries": 3},
    ],
)
def test_bad_settings_are_refused(config):
    with pytest.raises(AdapterConfigError):
        adapter_for("sandbox", config)


def test_concurrent_places_with_the_same_key_create_one_order():
    adapter = sandbox(latency_ms=5, async_rate=0.5)
    count = 16
    barrier = threading.Barrier(count)
    results: list[OrderResult | None] = [None] * count

    def run(i: int) -> None:
        barrier.wait(timeout=10)
        results[i] = adapter.place(order_request())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert sandbox_placed_count("redemption-1:attempt-1") == 1
    assert len({result.supplier_ref for result in results}) == 1


def fulfil(adapter: SandboxAdapter, order: int, max_attempts: int = 12) -> OrderResult:
    """A caller following the interface's rules: a new key per attempt, a retryable
    failure tried again, an unknown outcome reconciled with lookup first, a submitted
    order polled until delivered."""
    result: OrderResult | None = None
    for attempt in range(1, max_attempts + 1):
        key = f"redemption-{order}:attempt-{attempt}"
        result = adapter.place(order_request(key=key))
        if result.failed and result.error.unknown:
            found = adapter.lookup(key)
            if found is None:
                continue  # never placed: a new attempt is safe
            result = found
        while result.submitted:
            result = adapter.lookup(key, result.supplier_ref)
        if result.delivered or result.error.terminal:
            return result
    assert result is not None
    return result


def test_a_caller_following_the_rules_never_buys_an_order_twice():
    adapter = sandbox(
        seed=2024, failure_rate=0.2, timeout_rate=0.15, unknown_rate=0.25, async_rate=0.3
    )

    results = [fulfil(adapter, order) for order in range(300)]

    placements = sandbox_placements()
    per_order: dict[str, int] = {}
    for key, count in placements.items():
        assert count == 1
        order = key.split(":")[0]
        per_order[order] = per_order.get(order, 0) + count
    assert max(per_order.values()) == 1
    delivered = [result for result in results if result.delivered]
    assert len(delivered) == len(per_order)  # every order placed was delivered
    assert all(result.delivered or result.error.terminal for result in results)
    assert {len(result.codes) for result in delivered} == {1}
    assert 0 < len(results) - len(delivered) < 100  # some refused, terminally
