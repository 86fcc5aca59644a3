"""The catalog's scheduled jobs, each run twice at the same moment on PostgreSQL and then
once more: their effects happen once (tests/jobs_twice.py)."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog import tasks
from catalog.models import AlertKind, CatalogAlert, CodePool, MerchantCatalogItem, SupplierKind
from loyalty.models import ExchangeRate
from tests.catalog.factories import (
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    merchant_with_program,
    offered,
    rate,
    select,
)
from tests.jobs_twice import covers, run, run_twice_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HOUR = datetime.timedelta(hours=1)


def priced_items(count: int) -> list[MerchantCatalogItem]:
    """EUR merchants' USD rewards, priced at 0.90 EUR to the USD."""
    rate("USD", "EUR", "0.90", as_of=timezone.now() - 2 * HOUR)
    items = []
    for _ in range(count):
        merchant, _ = merchant_with_program(currency="EUR")
        rewards = [
            offered(RewardFactory(face_currency="USD", denominations=["10"])) for _ in range(2)
        ]
        items += select(merchant, *rewards)
    assert {item.prices["10.00"] for item in items} == {900}
    return items


def history(items: list[MerchantCatalogItem]) -> list[tuple]:
    return sorted(
        MerchantCatalogItem.history.filter(id__in=[item.pk for item in items]).values_list(
            "id", "prices"
        ),
        key=repr,
    )


@covers(tasks.refresh_exchange_rates)
def test_refreshing_rates_twice_at_once_imports_each_file_once(tmp_path, settings):
    settings.EXCHANGE_RATE_DROP_DIR = tmp_path
    settings.EXCHANGE_RATE_MAX_AGE_HOURS = 48
    items = priced_items(2)
    before = history(items)
    as_of = (timezone.now() - HOUR).isoformat()
    (tmp_path / "rates.csv").write_text(
        f"base,quote,rate,as_of\nUSD,EUR,0.80,{as_of}\nGBP,USD,1.27,{as_of}\n"
    )

    results = run_twice_at_once(tasks.refresh_exchange_rates)

    assert sum(result["rows"] for result in results) == 2 + 4, results
    assert ExchangeRate.objects.filter(source="file:rates.csv").count() == 2
    assert [path.name for path in (tmp_path / "processed").iterdir()] == ["rates.csv"]
    assert not (tmp_path / "rates.csv").exists()
    assert {item.prices["10.00"] for item in MerchantCatalogItem.objects.all()} == {800}
    after = history(items)
    assert len(after) == len(before) + 4
    assert not CatalogAlert.objects.filter(resolved_at=None).exists()
    assert run(tasks.refresh_exchange_rates)["rows"] == 0
    assert history(items) == after


@covers(tasks.reprice_items)
def test_repricing_twice_at_once_reprices_each_item_once():
    items = priced_items(3)
    before = history(items)
    rate("USD", "EUR", "0.95", as_of=timezone.now() - HOUR)

    results = run_twice_at_once(tasks.reprice_items)

    assert sum(result["rows"] for result in results) == 6, results
    assert {item.prices["10.00"] for item in MerchantCatalogItem.objects.all()} == {950}
    after = history(items)
    assert len(after) == len(before) + 6
    assert run(tasks.reprice_items)["rows"] == 0
    assert history(items) == after


@covers(tasks.check_code_pools)
def test_checking_code_pools_twice_at_once_opens_one_alert_per_low_pool():
    pools = []
    for _ in range(3):
        offer = OfferFactory(supplier=SupplierFactory(kind=SupplierKind.WAREHOUSE, adapter="pool"))
        pools.append(
            CodePool.objects.create(offer=offer, face_value=Decimal("25"), low_stock_threshold=3)
        )

    results = run_twice_at_once(tasks.check_code_pools)

    assert all("3 pool(s) checked, 3 low" in result for result in results), results
    alerts = CatalogAlert.objects.filter(kind=AlertKind.LOW_STOCK)
    assert sorted(alerts.values_list("subject", "resolved_at")) == [
        (f"pool:{pool.pk}", None) for pool in pools
    ]
    run(tasks.check_code_pools)
    assert alerts.count() == 3
    assert not alerts.exclude(resolved_at=None).exists()
