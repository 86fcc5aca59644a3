"""The manual adapter: ops fulfil the order by hand later."""

from fulfillment.adapters import OrderStatus, adapter_for
from tests.fulfillment.adapters.orders import order_request


def test_placing_submits_the_order_with_nothing_delivered():
    result = adapter_for("manual", {}).place(order_request(key="r-7:a-1"))

    assert result.status == OrderStatus.SUBMITTED
    assert result.codes == []
    assert result.error is None
    assert result.supplier_ref == "manual:r-7:a-1"


def test_placing_twice_with_the_same_key_gives_the_same_answer():
    adapter = adapter_for("manual", {})

    assert adapter.place(order_request()) == adapter.place(order_request())


def test_lookup_says_the_order_still_waits_for_ops():
    result = adapter_for("manual", {}).lookup("r-7:a-1", "manual:r-7:a-1")

    assert result is not None
    assert result.submitted
    assert result.supplier_ref == "manual:r-7:a-1"


def test_a_manual_order_can_always_be_cancelled():
    assert adapter_for("manual", {}).cancel("manual:r-7:a-1") is True
