import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from core.exceptions import DomainError
from core.hooks import app_hooks
from loyalty.reports.billing import active_members_usage_post, months_of
from merchants.models import UsageRecord
from tests.loyalty.factories import member_make, order_post, points_take, program_merchant
from tests.loyalty.reports.builders import at, earn, run_job
from tests.merchants.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def test_months_of_a_period():
    d = datetime.date
    assert months_of(d(2026, 11, 15), d(2027, 1, 3)) == [
        d(2026, 11, 1),
        d(2026, 12, 1),
        d(2027, 1, 1),
    ]
    assert months_of(d(2026, 2, 1), d(2026, 2, 28)) == [d(2026, 2, 1)]


def test_active_members_are_posted_once_a_month_as_usage():
    merchant, _ = program_merchant(currency="EUR")
    merchant.timezone = "Europe/Paris"
    merchant.save()
    a, b, idle = member_make(merchant), member_make(merchant), member_make(merchant)
    earn(a, 10, at("2026-10-03", 9, tz="Europe/Paris"))
    earn(a, 10, at("2026-10-20", 9, tz="Europe/Paris"))  # counted once
    earn(b, 10, at("2026-10-31", 23, 30, tz="Europe/Paris"))  # still October in Paris
    earn(b, 5, at("2026-11-30", 23, 30))  # 1 December in Paris
    other, _ = program_merchant()
    earn(member_make(other), 10, at("2026-10-10", 9))
    run_job()

    active_members_usage_post(
        merchant=merchant,
        period_start=datetime.date(2026, 10, 1),
        period_end=datetime.date(2026, 11, 30),
    )
    records = {
        r.source_ref: r
        for r in UsageRecord.objects.filter(merchant=merchant, kind="active_members")
    }
    assert set(records) == {"active_members:2026-10", "active_members:2026-11"}
    october = records["active_members:2026-10"]
    assert october.quantity == 2
    assert records["active_members:2026-11"].quantity == 0
    assert october.currency == "EUR"
    assert october.fee == 0
    assert october.occurred_at.astimezone(ZoneInfo("Europe/Paris")).date() == datetime.date(
        2026, 10, 31
    )
    assert october.occurred_at < datetime.datetime(2026, 10, 31, 23, tzinfo=datetime.UTC)
    assert not UsageRecord.objects.filter(merchant=other).exists()
    assert idle  # joined, never active

    # Posting again (a retried invoice run) posts nothing new.
    active_members_usage_post(
        merchant=merchant,
        period_start=datetime.date(2026, 10, 1),
        period_end=datetime.date(2026, 10, 31),
    )
    assert UsageRecord.objects.filter(merchant=merchant, kind="active_members").count() == 2


def test_a_member_active_by_ordering_or_redeeming_counts():
    merchant, _ = program_merchant()
    buyer, redeemer = member_make(merchant), member_make(merchant, points=20)
    order_post(merchant, buyer, "0.00")
    points_take(redeemer, 5)
    run_job()
    today = timezone.localdate()
    active_members_usage_post(merchant=merchant, period_start=today, period_end=today)
    record = UsageRecord.objects.get(merchant=merchant, kind="active_members")
    assert record.quantity == 2


def test_a_reversed_period_is_refused():
    merchant, _ = program_merchant()
    with pytest.raises(DomainError):
        active_members_usage_post(
            merchant=merchant,
            period_start=datetime.date(2026, 2, 1),
            period_end=datetime.date(2026, 1, 1),
        )
    assert not UsageRecord.objects.filter(merchant=merchant).exists()


def test_the_invoicing_finds_the_collector_by_its_hook():
    assert active_members_usage_post in app_hooks("billing_usage_collectors")


def test_a_merchant_without_a_program_posts_no_active_members():
    merchant = MerchantFactory()
    active_members_usage_post(
        merchant=merchant,
        period_start=datetime.date(2026, 3, 1),
        period_end=datetime.date(2026, 3, 31),
    )
    assert not UsageRecord.objects.filter(merchant=merchant).exists()
