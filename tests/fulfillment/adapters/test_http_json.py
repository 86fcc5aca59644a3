"""The HTTP JSON adapter against a fake aggregator on 127.0.0.1: orders, replays, async
delivery, and how each failure is classified."""

import datetime
import json
import logging
import socket
from decimal import Decimal

import pytest

from fulfillment.adapters import (
    AdapterConfigError,
    OrderStatus,
    RetryableError,
    TerminalError,
    UnknownOutcome,
    adapter_for,
)
from fulfillment.adapters.http_json import HttpJsonAdapter, Malformed, parse_order
from tests.fulfillment.adapters.aggregator import Aggregator, Step
from tests.fulfillment.adapters.orders import order_request

TIMEOUT_S = 0.2
SLOW_S = 0.6
KEY = "redemption-1:attempt-1"


def client(aggregator: Aggregator, **config) -> HttpJsonAdapter:
    settings = {"base_url": aggregator.base_url, "api_key": aggregator.api_key}
    adapter = adapter_for("http_json", {**settings, "timeout_s": TIMEOUT_S, **config})
    assert isinstance(adapter, HttpJsonAdapter)
    return adapter


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_order_is_posted_with_its_key_and_delivered(aggregator):
    result = client(aggregator).place(order_request(quantity=2, face_value=Decimal("25")))

    assert result.status == OrderStatus.DELIVERED
    assert result.supplier_ref == "AGG-1"
    assert [code.code for code in result.codes] == ["AGG-1-0", "AGG-1-1"]
    assert result.codes[0].pin == "1234"
    assert result.codes[0].expires_on == datetime.date(2099, 12, 31)
    assert result.cost == Decimal("47.50")
    method, path, headers, body = aggregator.seen[0]
    assert (method, path) == ("POST", "/v1/orders")
    assert headers["Idempotency-Key"] == KEY
    assert headers["Authorization"] == f"Bearer {aggregator.api_key}"
    assert headers["Content-Type"] == "application/json"
    assert body == {
        "idempotency_key": KEY,
        "sku": "GIFT-25-US",
        "country": "US",
        "face_value": "25",
        "currency": "USD",
        "quantity": 2,
        "recipient": {"email": "member@example.com"},
        "reference": "R-1",
    }


def test_a_replay_answered_409_is_the_original_order_placed_once(aggregator):
    adapter = client(aggregator)
    first = adapter.place(order_request())

    again = adapter.place(order_request())

    assert again == first
    assert aggregator.placements[KEY] == 1
    assert len(aggregator.orders) == 1


def test_a_bare_409_is_resolved_by_looking_the_order_up(aggregator):
    adapter = client(aggregator)
    first = adapter.place(order_request())
    aggregator.replay_holds_order = False

    again = adapter.place(order_request())

    assert again == first
    assert [seen[:2] for seen in aggregator.seen[1:]] == [
        ("POST", "/v1/orders"),
        ("GET", f"/v1/orders/{KEY}"),
    ]


def test_an_async_order_is_submitted_then_delivered_on_lookup(aggregator):
    adapter = client(aggregator)

    placed = adapter.place(order_request(supplier_sku="ASYNC-GIFT"))
    found = adapter.lookup(KEY, placed.supplier_ref)

    assert placed.submitted
    assert placed.codes == []
    assert found.delivered
    assert [code.code for code in found.codes] == ["AGG-1-0"]


def test_a_shipped_order_carries_its_tracking(aggregator):
    result = client(aggregator).place(order_request(supplier_sku="SHIP-MUG"))

    assert result.delivered
    assert result.codes == []
    assert (result.tracking.carrier, result.tracking.number) == ("UPS", "1ZAGG-1")


def test_lookup_of_an_order_never_placed_is_none(aggregator):
    assert client(aggregator).lookup("r-404:a-1") is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_is_retryable_and_the_retry_places_the_order_once(aggregator, status):
    adapter = client(aggregator)
    aggregator.script.append(Step(status=status))

    failed = adapter.place(order_request())
    retried = adapter.place(order_request())

    assert failed.failed
    assert failed.error.retryable
    assert f"HTTP {status}" in failed.error.message
    assert retried.delivered
    assert aggregator.placements[KEY] == 1


def test_a_gateway_timeout_is_an_unknown_outcome(aggregator):
    aggregator.script.append(Step(status=504))

    result = client(aggregator).place(order_request())

    assert result.failed
    assert result.error.unknown


@pytest.mark.parametrize("status", [408, 429])
def test_a_timeout_or_rate_limit_answer_is_retryable(aggregator, status):
    aggregator.script.append(Step(status=status))

    result = client(aggregator).place(order_request())

    assert result.error.retryable


def test_a_4xx_is_terminal_with_the_suppliers_message(aggregator):
    result = client(aggregator).place(order_request(supplier_sku="REJECT"))

    assert result.failed
    assert result.error.terminal
    assert result.error.message == "POST /orders: HTTP 422: unknown sku REJECT"
    assert not aggregator.orders


def test_a_slow_answer_after_the_order_was_sent_is_unknown_and_lookup_finds_it(aggregator):
    adapter = client(aggregator)
    aggregator.script.append(Step(delay=SLOW_S))

    result = adapter.place(order_request())
    found = adapter.lookup(KEY)
    replayed = adapter.place(order_request())

    assert result.failed
    assert result.error.unknown
    assert found.delivered
    assert replayed == found
    assert aggregator.placements[KEY] == 1


def test_a_malformed_answer_is_an_unknown_outcome(aggregator):
    aggregator.script.append(Step(raw=b"<html>oops</html>"))

    result = client(aggregator).place(order_request())

    assert result.error.unknown
    assert aggregator.placements[KEY] == 1


def test_an_answer_with_an_unknown_status_is_an_unknown_outcome(aggregator):
    aggregator.script.append(Step(raw=json.dumps({"id": "AGG-1", "status": "odd"}).encode()))

    result = client(aggregator).place(order_request())

    assert result.error.unknown
    assert "odd" in result.error.message


def test_a_refused_connection_is_retryable():
    adapter = adapter_for(
        "http_json", {"base_url": f"http://127.0.0.1:{free_port()}", "timeout_s": TIMEOUT_S}
    )

    result = adapter.place(order_request())

    assert result.failed
    assert result.error.retryable


def test_a_name_that_does_not_resolve_is_retryable():
    adapter = adapter_for(
        "http_json", {"base_url": "https://aggregator.invalid", "timeout_s": TIMEOUT_S}
    )

    assert adapter.place(order_request()).error.retryable


def test_lookup_raises_retryable_when_the_supplier_cannot_answer(aggregator):
    adapter = client(aggregator)
    aggregator.script.extend([Step(status=503), Step(delay=SLOW_S), Step(status=504)])

    for _ in range(3):
        with pytest.raises(RetryableError):
            adapter.lookup(KEY)
    with pytest.raises(RetryableError):
        adapter_for("http_json", {"base_url": f"http://127.0.0.1:{free_port()}"}).lookup(KEY)


def test_lookup_raises_unknown_on_a_malformed_answer(aggregator):
    adapter = client(aggregator)
    adapter.place(order_request())
    aggregator.script.append(Step(raw=b"{not json"))

    with pytest.raises(UnknownOutcome):
        adapter.lookup(KEY)


def test_wrong_credentials_are_terminal_and_never_written_anywhere(aggregator, caplog):
    caplog.set_level(logging.DEBUG)
    adapter = client(aggregator, api_key="wrong-key-c41b")

    result = adapter.place(order_request())
    with pytest.raises(TerminalError) as raised:
        adapter.lookup(KEY)

    assert result.error.terminal
    assert "HTTP 401" in result.error.message
    shown = " ".join(
        [result.error.message, str(raised.value), repr(adapter), repr(result), caplog.text]
    )
    assert "wrong-key-c41b" not in shown


def test_the_api_key_never_reaches_the_logs(aggregator, caplog):
    caplog.set_level(logging.DEBUG)
    adapter = client(aggregator)
    aggregator.script.extend([Step(status=503), Step(delay=SLOW_S)])

    adapter.place(order_request(key="r-1:a-1"))
    adapter.place(order_request(key="r-2:a-1"))
    adapter.place(order_request(key="r-3:a-1"))
    adapter.lookup("r-3:a-1")

    assert caplog.records
    assert aggregator.api_key not in caplog.text


def test_a_submitted_order_can_be_cancelled(aggregator):
    adapter = client(aggregator)
    placed = adapter.place(order_request(supplier_sku="ASYNC-GIFT"))

    assert adapter.cancel(placed.supplier_ref) is True
    found = adapter.lookup(KEY)
    assert found.failed
    assert found.error.terminal
    assert aggregator.seen[1][:2] == ("POST", "/v1/orders/AGG-1/cancel")


def test_a_delivered_or_unknown_order_cannot_be_cancelled(aggregator):
    adapter = client(aggregator)
    placed = adapter.place(order_request())

    assert adapter.cancel(placed.supplier_ref) is False
    assert adapter.cancel("AGG-404") is False


def test_cancel_raises_when_the_supplier_cannot_answer(aggregator):
    adapter = client(aggregator)
    aggregator.script.extend([Step(status=500), Step(delay=SLOW_S)])

    with pytest.raises(RetryableError):
        adapter.cancel("AGG-1")
    with pytest.raises(UnknownOutcome):
        adapter.cancel("AGG-1")


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"base_url": "ftp://files.example.com"},
        {"base_url": "https://user:pass@api.example.com"},
        {"base_url": "https://api.example.com", "timeout_s": 0},
        {"base_url": "https://api.example.com", "timeout_s": "soon"},
        {"base_url": "https://api.example.com", "password": "x"},
    ],
)
def test_bad_settings_are_refused(config):
    with pytest.raises(AdapterConfigError):
        adapter_for("http_json", config)


def test_a_cost_sent_as_a_json_number_is_read_as_a_decimal(aggregator):
    aggregator.script.append(Step(raw=b'{"id": "AGG-1", "status": "delivered", "cost": 0.1}'))

    result = client(aggregator).place(order_request())

    assert result.cost == Decimal("0.1")


def test_parse_order_reads_failures_and_refuses_broken_orders():
    failed = parse_order(
        {"id": "A", "status": "failed", "error": {"message": "no stock", "retryable": True}}
    )
    assert failed.error == RetryableError("no stock")
    assert parse_order({"id": "A", "status": "failed"}).error.terminal

    for broken in [
        [],
        {"status": "delivered"},
        {"id": "A", "status": "delivered", "codes": [{"pin": "1"}]},
        {"id": "A", "status": "delivered", "codes": [{"code": "C", "expires_on": "soon"}]},
        {"id": "A", "status": "delivered", "cost": "-1"},
        {"id": "A", "status": "delivered", "tracking": "UPS"},
    ]:
        with pytest.raises(Malformed):
            parse_order(broken)
