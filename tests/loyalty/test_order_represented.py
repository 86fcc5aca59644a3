"""``order_represented`` (the answer of an order recorded, built without DRF's walk through
the serializer) gives what ``OrderSerializer(order).data`` gives, key for key and in the
same order, for orders in every state."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.api.fastpath import order_represented
from loyalty.api.serializers import OrderSerializer
from loyalty.models import EarningRule, Order, RuleKind
from tests.catalog.factories import rate
from tests.loyalty.factories import member_make, order_post, program_merchant, refund_post

pytestmark = pytest.mark.django_db


def assert_same(order: Order) -> dict:
    fast = order_represented(order)
    assert list(fast.items()) == list(OrderSerializer(order).data.items())
    return fast


def test_every_field_of_the_serializer_is_answered():
    assert set(OrderSerializer().fields) == set(OrderSerializer.Meta.fields)
    merchant, _ = program_merchant()
    order = order_post(merchant, member_make(merchant), "10.00").obj
    assert list(order_represented(order)) == OrderSerializer.Meta.fields


def test_pending_and_available_orders_with_rules_read_the_same():
    merchant, program = program_merchant(pending_days=30)
    EarningRule.objects.create(
        program=program,
        name="Bonus from $50",
        kind=RuleKind.PURCHASE_BONUS,
        bonus_points=25,
        min_order_total=Decimal("50"),
    )
    member = member_make(merchant)
    pending = assert_same(order_post(merchant, member, "80.00").obj)
    assert pending["points_status"] == "pending"
    assert pending["available_at"] is not None
    assert any(part["rule_id"] is not None for part in pending["rules"])

    program.pending_days = 0
    program.save()
    merchant, _ = program_merchant()
    available = assert_same(order_post(merchant, member_make(merchant), "12.34").obj)
    assert available["points_status"] == "available"
    assert available["total"] == "12.34"


def test_a_converted_refunded_order_read_back_from_the_database_reads_the_same():
    merchant, _ = program_merchant()
    rate("EUR", "USD", "1.0837")
    member = member_make(merchant)
    recorded = order_post(merchant, member, "99.99", currency="EUR").obj
    refund_post(merchant, recorded.external_id, "33.33")
    order = Order.objects.select_related("member").get(pk=recorded.pk)
    assert not hasattr(order, "first_lot")

    fast = assert_same(order)

    assert fast["rate_used"] is not None
    assert fast["refunded_total"] == "33.33"
    assert fast["points_reversed"] > 0


def test_an_order_that_earned_nothing_and_amounts_without_decimals_read_the_same():
    merchant, _ = program_merchant()
    rate("JPY", "USD", "0.0067")
    member = member_make(merchant)
    nothing = assert_same(order_post(merchant, member, "0").obj)
    assert nothing["points_status"] == "none"
    assert nothing["available_at"] is None
    yen = assert_same(order_post(merchant, member, "12000", currency="JPY").obj)
    assert yen["total"] == "12000"


def test_times_read_the_same_in_another_time_zone():
    merchant, _ = program_merchant(pending_days=3)
    placed = timezone.now() - datetime.timedelta(hours=5)
    order = order_post(merchant, member_make(merchant), "20.00", placed_at=placed).obj
    with timezone.override("Asia/Tokyo"):
        fast = assert_same(order)
    assert fast["placed_at"].endswith("+09:00")
