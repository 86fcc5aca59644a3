"""The adapter interface: the registry, the request and result types, error kinds."""

import datetime
from decimal import Decimal

import pytest

from fulfillment.adapters import (
    ADAPTERS,
    AdapterConfigError,
    AdapterError,
    DeliveredCode,
    ErrorKind,
    OrderResult,
    OrderStatus,
    RetryableError,
    SupplierAdapter,
    TerminalError,
    UnknownAdapter,
    UnknownOutcome,
    adapter_for,
)
from fulfillment.adapters.code_pool import CodePoolAdapter
from fulfillment.adapters.http_json import HttpJsonAdapter
from fulfillment.adapters.manual import ManualAdapter
from fulfillment.adapters.sandbox import SandboxAdapter
from tests.fulfillment.adapters.orders import order_request


def test_the_registry_names_the_four_built_in_adapters():
    assert set(ADAPTERS) == {"manual", "code_pool", "sandbox", "http_json"}


@pytest.mark.parametrize(
    ("name", "config", "cls"),
    [
        ("manual", {}, ManualAdapter),
        ("code_pool", {}, CodePoolAdapter),
        ("sandbox", {"seed": 1}, SandboxAdapter),
        ("http_json", {"base_url": "https://api.example.com", "api_key": "k"}, HttpJsonAdapter),
    ],
)
def test_adapter_for_builds_the_named_adapter_with_its_settings(name, config, cls):
    adapter = adapter_for(name, config)

    assert type(adapter) is cls
    assert isinstance(adapter, SupplierAdapter)
    assert adapter.name == name
    assert adapter.config == config


def test_an_unknown_adapter_name_is_a_clear_error_listing_the_known_ones():
    with pytest.raises(UnknownAdapter, match=r"'fake'.*manual, code_pool, sandbox, http_json"):
        adapter_for("fake", {})


def test_an_unknown_setting_is_refused_naming_it():
    with pytest.raises(AdapterConfigError, match=r"unknown setting.*colour"):
        adapter_for("manual", {"colour": "blue"})


def test_an_adapter_repr_never_shows_its_settings():
    adapter = adapter_for("http_json", {"base_url": "https://x.example", "api_key": "s3cret"})

    assert "s3cret" not in repr(adapter)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "has space"}, "idempotency_key"),
        ({"idempotency_key": "k" * 121}, "idempotency_key"),
        ({"face_value": 25.0}, "face_value"),
        ({"face_value": Decimal("0")}, "face_value"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"currency": "usd"}, "currency"),
        ({"supplier_sku": ""}, "supplier_sku"),
    ],
)
def test_an_order_request_refuses_bad_fields(overrides, field):
    with pytest.raises(ValueError, match=field):
        order_request(**overrides)


def test_an_order_request_takes_a_120_character_key():
    assert order_request(key="k" * 120).idempotency_key == "k" * 120


def test_an_order_request_is_immutable():
    request = order_request()

    with pytest.raises(AttributeError):
        request.quantity = 2  # type: ignore[misc]


def test_error_kinds_and_their_classes():
    assert RetryableError("x").kind == ErrorKind.RETRYABLE == "retryable"
    assert TerminalError("x").terminal
    assert UnknownOutcome("x").unknown
    assert AdapterError("x", "retryable").retryable
    assert AdapterError("x", "unknown") == UnknownOutcome("x")
    with pytest.raises(ValueError, match="maybe"):
        AdapterError("x", "maybe")


def test_a_result_has_an_error_exactly_when_it_failed():
    failed = OrderResult.failure(RetryableError("busy"))

    assert failed.failed
    assert failed.error.retryable
    with pytest.raises(ValueError, match="error"):
        OrderResult(status=OrderStatus.FAILED)
    with pytest.raises(ValueError, match="error"):
        OrderResult(status="delivered", error=TerminalError("no"))
    with pytest.raises(ValueError, match="pending"):
        OrderResult(status="pending")


def test_a_result_refuses_a_float_cost():
    with pytest.raises(ValueError, match="cost"):
        OrderResult(status="submitted", cost=12.5)


def test_a_delivered_code_keeps_code_and_pin_out_of_its_repr():
    code = DeliveredCode(code="GIFT-SECRET-1", pin="9876", expires_on=datetime.date(2099, 1, 1))

    shown = repr(OrderResult(status="delivered", codes=[code]))

    assert "GIFT-SECRET-1" not in shown
    assert "9876" not in shown
    assert "2099" in shown
