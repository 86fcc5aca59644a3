"""A delivered redemption posts one usage record for the merchant's invoices."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from fulfillment import dispatch
from merchants.models import FeePlan, UsageRecord
from tests.catalog.factories import OfferFactory, RewardFactory, rate
from tests.fulfillment.test_dispatch import redeem, sandbox, shop

pytestmark = pytest.mark.django_db


def plan(merchant, currency="USD") -> FeePlan:
    return FeePlan.objects.create(
        merchant=merchant,
        currency=currency,
        monthly_platform_fee=Decimal(0),
        fee_per_active_member=Decimal(0),
        fee_per_redemption=Decimal("0.50"),
        reward_margin_percent=Decimal("3"),
        valid_from=datetime.date(2020, 1, 1),
    )


def test_a_delivery_posts_the_value_the_cost_and_the_fee_once():
    merchant, reward = shop(sandbox("good"))
    plan(merchant)
    redemption = redeem(merchant, reward, value="25")
    dispatch.process_due(now=timezone.now())

    (record,) = UsageRecord.objects.all()
    assert (record.kind, record.source_ref) == ("redemption", str(redemption.public_id))
    assert record.currency == "USD"
    assert record.reward_value == Decimal("25.00")
    assert record.cost == Decimal("25.00")  # what the sandbox charged
    assert record.fee == Decimal("1.25")  # 3 % of 25.00 + 0.50
    assert record.details["cost_from"] == "supplier"
    # Processing again bills nothing more.
    dispatch.process_due(now=timezone.now() + datetime.timedelta(hours=1))
    assert UsageRecord.objects.count() == 1


def test_amounts_are_converted_into_the_plans_currency():
    merchant, _ = shop(sandbox("unused"))
    plan(merchant, currency="EUR")
    rate("USD", "EUR", "0.90")
    reward = RewardFactory(denominations=["10"])
    OfferFactory(reward=reward, supplier=sandbox("good"), discount_percent=Decimal(10))
    from tests.catalog.factories import select

    select(merchant, reward, price_step=1)
    redeem(merchant, reward, value="10")
    dispatch.process_due(now=timezone.now())
    record = UsageRecord.objects.get()
    assert record.currency == "EUR"
    assert record.reward_value == Decimal("9.00")
    assert record.cost == Decimal("9.00")  # the supplier's 10.00 USD
    assert record.fee == Decimal("0.77")  # 3 % of 9.00 = 0.27, + 0.50


def test_without_a_fee_plan_the_value_is_posted_and_no_fee():
    merchant, reward = shop(sandbox("good"))
    redeem(merchant, reward, value="10")
    dispatch.process_due(now=timezone.now())
    record = UsageRecord.objects.get()
    assert (record.currency, record.reward_value, record.fee) == ("USD", Decimal("10.00"), 0)
    assert record.fee_plan is None


def test_refunded_redemptions_post_nothing():
    merchant, reward = shop(sandbox("bad", failure_rate=1, terminal_share=1))
    plan(merchant)
    redeem(merchant, reward)
    dispatch.process_due(now=timezone.now())
    assert not UsageRecord.objects.exists()


def test_a_hand_delivered_order_is_costed_from_the_offers_terms():
    from fulfillment import staff
    from fulfillment.models import SupplierOrder
    from tests.catalog.factories import SupplierFactory, select

    merchant, _ = shop(sandbox("unused"))
    plan(merchant)
    reward = RewardFactory(denominations=["20"])
    OfferFactory(
        reward=reward,
        supplier=SupplierFactory(adapter="manual"),
        discount_percent=Decimal(5),
        fee=Decimal("0.40"),
    )
    select(merchant, reward, price_step=1)
    redeem(merchant, reward, value="20")
    dispatch.process_due(now=timezone.now())
    order = SupplierOrder.objects.get(status="submitted")
    staff.manual_order_deliver(
        supplier_order=order, codes=[{"code": "HAND-1234"}], tracking=None, actor=None
    )
    record = UsageRecord.objects.get()
    assert record.cost == Decimal("19.40")  # 20 less 5 %, plus the 0.40 fee
    assert record.details["cost_from"] == "offer terms"


def test_finance_reads_the_usage_records_in_the_admin(admin_client):
    merchant, reward = shop(sandbox("good"))
    plan(merchant)
    redeem(merchant, reward, value="25")
    dispatch.process_due(now=timezone.now())
    page = admin_client.get("/admin/merchants/usagerecord/")
    assert page.status_code == 200
    assert str(UsageRecord.objects.get().source_ref) in page.content.decode()
    record = UsageRecord.objects.get()
    assert admin_client.post(f"/admin/merchants/usagerecord/{record.pk}/delete/").status_code == 403
