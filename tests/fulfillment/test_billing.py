"""A delivered redemption posts one usage record for the merchant's invoices."""

import datetime
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.actors import SYSTEM
from fulfillment.billing import BillingCache, redemption_bill, redemptions_bill
from fulfillment.models import Redemption, SupplierOrder
from fulfillment.services import dispatch
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
    from fulfillment.models import SupplierOrder
    from fulfillment.services import interventions
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
    interventions.manual_order_deliver(
        supplier_order=order, codes=[{"code": "HAND-1234"}], tracking=None, actor=SYSTEM
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


def billing_statements(queries) -> Counter:
    """The statements billing sent, by table (everything else is dispatch's)."""
    tables = ("merchants_merchant", "merchants_feeplan", "loyalty_exchangerate")
    found = Counter()
    for query in queries:
        sql = query["sql"]
        if sql.startswith("INSERT") and '"merchants_usagerecord"' in sql.split("(", 1)[0]:
            found["usage record insert"] += 1
            continue
        for table in (*tables, "merchants_usagerecord"):
            if sql.startswith("SELECT") and f'FROM "{table}"' in sql:
                found[table] += 1
    return found


# What recording a batch of deliveries takes, whatever its size: the two row locks (the
# orders, then the redemptions with their merchant, member and reward), the codes, the
# redemptions' update, the usage records, and one statement for the orders, the events
# and the webhook events. In a test every transaction is a savepoint: two more each.
# PostgreSQL's counts: elsewhere (SQLite) the one-statement writes are several statements.
RECORD_QUERIES = 6 + 2
# Per run: the claim (select, rate-limit count, lease) in its transaction, and the plan.
RUN_QUERIES = 3 + 2 + 1


@pytest.mark.postgres
def test_one_delivery_takes_fourteen_queries(django_assert_num_queries):
    """Pinned so that it cannot grow back: the run's and the batch's statements, and none
    of the delivery's own."""
    merchant, reward = shop(sandbox("good"))
    plan(merchant)
    redeem(merchant, reward, value="25")
    with django_assert_num_queries(RUN_QUERIES + RECORD_QUERIES):
        assert dispatch.process_due(now=timezone.now()).delivered == 1
    assert UsageRecord.objects.count() == 1


@pytest.mark.postgres
def test_a_batch_of_deliveries_takes_as_many_queries_as_one_and_billing_reads_once():
    merchant, reward = shop(sandbox("good"))
    plan(merchant, currency="EUR")
    rate("USD", "EUR", "0.90")
    for number in range(4):
        redeem(merchant, reward, value="10", external_id=f"r{number}")
    with CaptureQueriesContext(connection) as captured:
        assert dispatch.process_due(now=timezone.now()).delivered == 4
    assert len(captured) == RUN_QUERIES + 1 + RECORD_QUERIES  # and the rate, once
    # No merchant read, the plan and the rate once for the run, one insert for the batch.
    assert billing_statements(captured.captured_queries) == Counter(
        {"merchants_feeplan": 1, "loyalty_exchangerate": 1, "usage record insert": 1}
    )
    assert {record.currency for record in UsageRecord.objects.all()} == {"EUR"}
    assert {record.reward_value for record in UsageRecord.objects.all()} == {Decimal("9.00")}
    assert UsageRecord.objects.count() == 4


@pytest.mark.postgres
def test_a_batch_posted_again_bills_nothing_twice(django_assert_num_queries):
    merchant, reward = shop(sandbox("good"))
    plan(merchant)
    for number in range(3):
        redeem(merchant, reward, value="10", external_id=f"r{number}")
    dispatch.process_due(now=timezone.now())
    first = {record.source_ref: record.pk for record in UsageRecord.objects.all()}
    assert len(first) == 3
    orders = SupplierOrder.objects.select_related("offer", "redemption__merchant")
    delivered = [(order.redemption, order) for order in orders]
    cache = BillingCache()
    cache.plan(merchant, timezone.now().date())

    with django_assert_num_queries(1):  # one insert that skips what is there
        redemptions_bill(delivered=delivered, at=timezone.now(), cache=cache)

    assert {record.source_ref: record.pk for record in UsageRecord.objects.all()} == first


def test_billing_with_the_runs_plan_and_rates_reads_nothing_but_posts_once(
    django_assert_num_queries,
):
    merchant, reward = shop(sandbox("good"))
    fee_plan = plan(merchant, currency="EUR")
    rate("USD", "EUR", "0.90")
    redemption = redeem(merchant, reward, value="10")
    dispatch.process_due(now=timezone.now())
    UsageRecord.objects.all().delete()
    order = SupplierOrder.objects.select_related("offer").get()
    redemption = Redemption.objects.select_related("merchant").get(pk=redemption.pk)
    cache = BillingCache()
    at = timezone.now()
    with django_assert_num_queries(3):  # the plan, the rate, the insert
        first = redemption_bill(redemption=redemption, supplier_order=order, at=at, cache=cache)
    assert first.fee_plan == fee_plan
    UsageRecord.objects.all().delete()
    with django_assert_num_queries(1):  # the insert alone
        again = redemption_bill(redemption=redemption, supplier_order=order, at=at, cache=cache)
    assert (again.currency, again.reward_value, again.fee) == (
        "EUR",
        Decimal("9.00"),
        Decimal("0.77"),
    )
    # Billed already: the first record comes back, nothing is posted twice.
    with django_assert_num_queries(2):
        repeat = redemption_bill(redemption=redemption, supplier_order=order, at=at, cache=cache)
    assert repeat.pk == again.pk
    assert UsageRecord.objects.count() == 1


def test_a_rate_stored_between_two_runs_bills_the_second_run():
    merchant, reward = shop(sandbox("good"))
    plan(merchant, currency="EUR")
    rate("USD", "EUR", "0.90")
    first = redeem(merchant, reward, value="10", external_id="first")
    dispatch.process_due(now=timezone.now())
    rate("USD", "EUR", "0.80", as_of=timezone.now())
    second = redeem(merchant, reward, value="10", external_id="second")
    dispatch.process_due(now=timezone.now())
    values = dict(UsageRecord.objects.values_list("source_ref", "reward_value"))
    assert values == {str(first.public_id): Decimal("9.00"), str(second.public_id): Decimal("8.00")}


def test_a_missing_rate_bills_every_delivery_of_the_run_at_face_value():
    merchant, reward = shop(sandbox("good"))
    plan(merchant, currency="EUR")  # no USD -> EUR rate
    for number in range(2):
        redeem(merchant, reward, value="10", external_id=f"r{number}")
    assert dispatch.process_due(now=timezone.now()).delivered == 2
    records = list(UsageRecord.objects.all())
    assert len(records) == 2
    for record in records:
        assert (record.currency, record.reward_value, record.cost) == ("USD", Decimal("10"), None)
        assert "USD" in record.details["problem"]
