"""The catalog's periodic tasks (eager in the test settings) and the commands that run the
same services by hand."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from catalog import tasks
from catalog.models import (
    AlertKind,
    CatalogAlert,
    CodePool,
    MerchantCatalogItem,
    SupplierKind,
    VoucherCode,
)
from config.celery import app
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

pytestmark = pytest.mark.django_db
HOUR = datetime.timedelta(hours=1)
TASKS = ("catalog.refresh_exchange_rates", "catalog.reprice_items", "catalog.check_code_pools")


@pytest.fixture
def drop_dir(tmp_path, settings):
    settings.EXCHANGE_RATE_DROP_DIR = tmp_path
    return tmp_path


@pytest.fixture
def pool() -> CodePool:
    offer = OfferFactory(supplier=SupplierFactory(kind=SupplierKind.WAREHOUSE, adapter="pool"))
    return CodePool.objects.create(offer=offer, face_value=Decimal("25"), low_stock_threshold=3)


@pytest.fixture
def priced_item():
    """A EUR merchant's USD reward, priced at 0.90 EUR to the USD."""
    merchant, _ = merchant_with_program(currency="EUR")
    rate("USD", "EUR", "0.90", as_of=timezone.now() - 2 * HOUR)
    (item,) = select(merchant, offered(RewardFactory(face_currency="USD", denominations=["10"])))
    return item


def test_the_tasks_are_registered_and_scheduled_in_beat():
    assert set(TASKS) <= set(app.tasks)
    assert set(TASKS) <= set(PeriodicTask.objects.values_list("task", flat=True))


def test_refresh_exchange_rates_task_imports_the_drop_folder(drop_dir, priced_item):
    (drop_dir / "rates.csv").write_text(
        f"base,quote,rate,as_of\nUSD,EUR,0.80,{(timezone.now() - HOUR).isoformat()}\n"
    )

    summary = tasks.refresh_exchange_rates.delay().get()["summary"]

    assert "1 file(s) imported" in summary
    assert "1 item(s) repriced" in summary
    assert (drop_dir / "processed" / "rates.csv").exists()
    assert MerchantCatalogItem.objects.get(pk=priced_item.pk).prices == {"10.00": 800}


def test_reprice_items_task_follows_the_latest_rate(priced_item):
    assert priced_item.prices == {"10.00": 900}
    rate("USD", "EUR", "0.95", as_of=timezone.now() - HOUR)

    assert tasks.reprice_items.delay().get() == {"rows": 1, "summary": "1 item(s) repriced"}

    assert MerchantCatalogItem.objects.get(pk=priced_item.pk).prices == {"10.00": 950}
    assert tasks.reprice_items.delay().get()["rows"] == 0  # idempotent


def test_check_code_pools_task_alerts_on_a_low_pool(pool):
    summary = tasks.check_code_pools.delay().get()

    assert f"pool:{pool.pk}" in summary
    assert CatalogAlert.objects.filter(
        kind=AlertKind.LOW_STOCK, subject=f"pool:{pool.pk}", resolved_at=None
    ).exists()


def test_refresh_exchange_rates_command(drop_dir, priced_item):
    (drop_dir / "good.csv").write_text("base,quote,rate,as_of\nGBP,USD,1.27,2025-06-01\n")
    (drop_dir / "bad.csv").write_text("base,quote,rate,as_of\nGBP,USD,,2025-06-02\n")
    out, err = StringIO(), StringIO()

    call_command("refresh_exchange_rates", stdout=out, stderr=err)

    assert "1 file(s) imported, 1 rejected, 1 rate(s) added" in out.getvalue()
    assert "refused: bad.csv" in err.getvalue()
    assert ExchangeRate.objects.filter(base="GBP").count() == 1
    with pytest.raises(CommandError, match="offset"):
        call_command("refresh_exchange_rates", "--now", "2027-01-01T00:00")


def test_refresh_exchange_rates_command_checks_staleness_as_of_now_given(drop_dir, priced_item):
    out = StringIO()
    later = (timezone.now() + 72 * HOUR).isoformat()

    call_command("refresh_exchange_rates", "--now", later, stdout=out)

    assert "1 stale pair(s): rate:EUR/USD" in out.getvalue()


def test_reprice_catalog_command(priced_item):
    rate("USD", "EUR", "0.95", as_of=timezone.now() - HOUR)
    out = StringIO()

    call_command("reprice_catalog", "--currency", "jpy", stdout=out)
    assert out.getvalue().strip() == "0 item(s) repriced"

    call_command(
        "reprice_catalog", "--merchant", priced_item.merchant.slug, "--currency", "usd", stdout=out
    )
    assert "1 item(s) repriced" in out.getvalue()
    with pytest.raises(CommandError, match="No merchant"):
        call_command("reprice_catalog", "--merchant", "nobody")


def test_check_code_pools_command(pool):
    out = StringIO()
    call_command("check_code_pools", stdout=out)
    assert "1 pool(s) checked, 1 low" in out.getvalue()


def test_upload_codes_command(pool, tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("code,pin\nC-1,11\nC-2,22\nC-3,33\n")
    out = StringIO()

    call_command("upload_codes", str(pool.pk), str(path), stdout=out)

    assert "3 code(s) added" in out.getvalue()
    assert sorted(c.pin for c in VoucherCode.objects.all()) == ["11", "22", "33"]


def test_upload_codes_command_refuses_bad_input(pool, tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("code\nC-1\nC-1\n")
    with pytest.raises(CommandError, match="row 3: the same code as row 2"):
        call_command("upload_codes", str(pool.pk), str(path))
    with pytest.raises(CommandError, match="No code pool"):
        call_command("upload_codes", "999999", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("upload_codes", str(pool.pk), str(tmp_path / "missing.csv"))
    assert VoucherCode.objects.count() == 0
