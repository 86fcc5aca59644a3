"""Exchange rates from the drop folder: whole-file imports, rejects, idempotent re-runs,
repricing on a new rate, and stale-rate alerts."""

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from catalog import fx
from catalog.models import AlertKind, CatalogAlert, MerchantCatalogItem
from core.actors import SYSTEM
from loyalty.models import ExchangeRate
from merchants.services.billing import fee_plan_create
from tests.catalog.factories import (
    RewardFactory,
    merchant_with_program,
    offered,
    rate,
    select,
)

pytestmark = pytest.mark.django_db
HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def drop_dir(tmp_path, settings) -> Path:
    folder = tmp_path / "rates"
    folder.mkdir()
    settings.EXCHANGE_RATE_DROP_DIR = folder
    settings.EXCHANGE_RATE_MAX_AGE_HOURS = 48
    return folder


def drop(folder: Path, name: str, *rows: str, header: str = "base,quote,rate,as_of") -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def open_alerts(kind: str) -> dict[str, CatalogAlert]:
    return {
        alert.subject: alert
        for alert in CatalogAlert.objects.filter(kind=kind, resolved_at__isnull=True)
    }


def test_good_file_is_imported_and_moved_to_processed(drop_dir):
    drop(
        drop_dir,
        "2025-06-01.csv",
        "EUR,USD,1.0850,2025-06-01T16:00:00Z",
        "usd,jpy,157.25,2025-06-01T16:00:00+02:00",
        "GBP,USD,1.27,2025-06-01",
    )

    result = fx.rates_refresh()

    assert result.files_imported == ["2025-06-01.csv"]
    assert result.rates_added == 3
    assert not (drop_dir / "2025-06-01.csv").exists()
    assert (drop_dir / "processed" / "2025-06-01.csv").exists()
    stored = {(r.base, r.quote): (r.rate, r.as_of, r.source) for r in ExchangeRate.objects.all()}
    assert stored[("EUR", "USD")] == (
        Decimal("1.085"),
        datetime.datetime(2025, 6, 1, 16, tzinfo=datetime.UTC),
        "file:2025-06-01.csv",
    )
    assert stored[("USD", "JPY")][1] == datetime.datetime(2025, 6, 1, 14, tzinfo=datetime.UTC)
    # A date alone is that day's midnight UTC.
    assert stored[("GBP", "USD")][1] == datetime.datetime(2025, 6, 1, tzinfo=datetime.UTC)


def test_file_with_a_bad_row_imports_nothing_and_is_rejected_with_an_alert(drop_dir):
    drop(
        drop_dir,
        "bad.csv",
        "EUR,USD,1.08,2025-06-01T16:00:00Z",
        "EUR,ABC,1.08,2025-06-01T16:00:00Z",
        "EUR,GBP,-0.85,2025-06-01T16:00:00Z",
        "EUR,CHF,0.95,2025-06-01T16:00:00",
        "EUR,EUR,1,2025-06-01",
        "EUR,SEK,abc,2025-06-01",
    )

    result = fx.rates_refresh()

    assert result.files_rejected == ["bad.csv"]
    assert ExchangeRate.objects.count() == 0
    assert not (drop_dir / "bad.csv").exists()
    assert (drop_dir / "rejected" / "bad.csv").exists()
    errors = (drop_dir / "rejected" / "bad.errors.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in errors] == [
        "row 3",
        "row 4",
        "row 5",
        "row 6",
        "row 7",
    ]
    assert "ABC is not an ISO 4217 currency code" in errors[0]
    assert "must be positive" in errors[1]
    assert "offset" in errors[2]
    assert "both EUR" in errors[3]
    alert = open_alerts(AlertKind.RATE_IMPORT)["rate-file:bad.csv"]
    assert "bad.csv" in alert.message
    assert "row 3" in alert.message
    assert "row 7" in alert.message


def test_header_is_required(drop_dir):
    drop(drop_dir, "noheader.csv", "EUR,USD,1.08,2025-06-01", header="EUR,USD,1.07,2025-05-31")

    result = fx.rates_refresh()

    assert result.files_rejected == ["noheader.csv"]
    assert ExchangeRate.objects.count() == 0
    errors = (drop_dir / "rejected" / "noheader.errors.txt").read_text()
    assert "header" in errors


def test_same_pair_and_time_twice_in_a_file_is_an_error(drop_dir):
    drop(drop_dir, "twice.csv", "EUR,USD,1.08,2025-06-01", "EUR,USD,1.08,2025-06-01T00:00Z")

    assert fx.rates_refresh().files_rejected == ["twice.csv"]
    assert ExchangeRate.objects.count() == 0


def test_rerun_imports_nothing_again_and_identical_rows_are_not_errors(drop_dir):
    rows = ("EUR,USD,1.08,2025-06-01T16:00:00Z", "GBP,USD,1.27,2025-06-01T16:00:00Z")
    drop(drop_dir, "a.csv", *rows)
    assert fx.rates_refresh().rates_added == 2

    again = fx.rates_refresh()
    assert again.files_imported == []
    assert again.rates_added == 0

    # The same rows delivered again (under the same name, too) are already stored: fine.
    drop(drop_dir, "a.csv", *rows, "CHF,USD,1.12,2025-06-01T16:00:00Z")
    result = fx.rates_refresh()
    assert result.files_imported == ["a.csv"]
    assert (result.rates_added, result.rates_unchanged) == (1, 2)
    assert ExchangeRate.objects.count() == 3
    assert len(list((drop_dir / "processed").iterdir())) == 2


def test_a_row_contradicting_a_stored_rate_refuses_the_file(drop_dir):
    drop(drop_dir, "a.csv", "EUR,USD,1.08,2025-06-01T16:00:00Z")
    fx.rates_refresh()
    drop(drop_dir, "b.csv", "GBP,USD,1.27,2025-06-02", "EUR,USD,1.09,2025-06-01T16:00:00Z")

    result = fx.rates_refresh()

    assert result.files_rejected == ["b.csv"]
    assert list(ExchangeRate.objects.values_list("base", "rate")) == [("EUR", Decimal("1.08"))]
    assert "stored as 1.08" in (drop_dir / "rejected" / "b.errors.txt").read_text()


def test_a_corrected_file_clears_its_import_alert(drop_dir):
    drop(drop_dir, "daily.csv", "EUR,USD,zero,2025-06-01")
    fx.rates_refresh()
    assert "rate-file:daily.csv" in open_alerts(AlertKind.RATE_IMPORT)

    drop(drop_dir, "daily.csv", "EUR,USD,1.08,2025-06-01")
    fx.rates_refresh()

    assert open_alerts(AlertKind.RATE_IMPORT) == {}
    assert ExchangeRate.objects.count() == 1


def test_a_missing_drop_folder_only_checks_staleness(settings, tmp_path):
    settings.EXCHANGE_RATE_DROP_DIR = tmp_path / "nowhere"
    result = fx.rates_refresh()
    assert (result.files_imported, result.files_rejected, result.rates_added) == ([], [], 0)


def test_a_new_rate_reprices_the_items_priced_through_it(drop_dir):
    merchant, _ = merchant_with_program(currency="EUR", point_value="0.01")
    reward = offered(RewardFactory(face_currency="USD", denominations=["10", "50"]))
    old = rate("USD", "EUR", "0.90", as_of=timezone.now() - 2 * HOUR)
    (item,) = select(merchant, reward, price_step=10)
    assert item.exchange_rate == old
    assert item.prices == {"10.00": 900, "50.00": 4500}
    as_of = (timezone.now() - HOUR).isoformat()
    drop(drop_dir, "new.csv", f"EUR,USD,1.25,{as_of}")  # 1 USD = 0.80 EUR

    result = fx.rates_refresh()

    assert result.items_repriced == 1
    item = MerchantCatalogItem.objects.get(pk=item.pk)
    assert item.prices == {"10.00": 800, "50.00": 4000}
    assert item.exchange_rate.base == "EUR"
    assert item.rate_used == Decimal("0.8")
    assert item.history.count() == 2  # the previous price is kept


def test_a_rate_in_an_unrelated_currency_reprices_nothing(drop_dir):
    merchant, _ = merchant_with_program(currency="EUR")
    rate("USD", "EUR", "0.90")
    select(merchant, offered(RewardFactory(face_currency="USD")))
    drop(drop_dir, "jpy.csv", f"GBP,JPY,190,{timezone.now().date()}")

    assert fx.rates_refresh().items_repriced == 0


def test_stale_rate_alert_is_raised_then_cleared_by_a_fresh_rate(drop_dir):
    merchant, _ = merchant_with_program(currency="EUR")
    now = timezone.now()
    rate("USD", "EUR", "0.90", as_of=now - 72 * HOUR)
    select(merchant, offered(RewardFactory(face_currency="USD")))

    assert fx.rates_refresh(now=now).stale_pairs == ["rate:EUR/USD"]
    alert = open_alerts(AlertKind.STALE_RATE)["rate:EUR/USD"]
    assert "72 hours old" in alert.message

    # The inverse direction counts: conversion uses it.
    drop(drop_dir, "fresh.csv", f"EUR,USD,1.10,{(now - HOUR).isoformat()}")
    assert fx.rates_refresh(now=now).stale_pairs == []
    assert open_alerts(AlertKind.STALE_RATE) == {}
    assert CatalogAlert.objects.get(subject="rate:EUR/USD").resolved_at is not None


def test_max_age_comes_from_the_settings(drop_dir, settings):
    merchant, _ = merchant_with_program(currency="EUR")
    now = timezone.now()
    rate("USD", "EUR", "0.90", as_of=now - 30 * HOUR)
    select(merchant, offered(RewardFactory(face_currency="USD")))

    assert fx.rates_check_staleness(now) == []
    settings.EXCHANGE_RATE_MAX_AGE_HOURS = 24
    assert fx.rates_check_staleness(now) == ["rate:EUR/USD"]


def test_a_pair_in_use_without_any_rate_is_stale(drop_dir):
    merchant, _ = merchant_with_program(currency="EUR")
    reward = offered(RewardFactory(face_currency="GBP", countries=["GB"]))
    reward.offers.update(cost_currency="GBP")
    select(merchant, reward)

    assert fx.rates_check_staleness() == ["rate:EUR/GBP"]
    assert "no rate is stored" in open_alerts(AlertKind.STALE_RATE)["rate:EUR/GBP"].message


def test_pairs_in_use_cover_offer_costs_and_the_fee_plan_currency(drop_dir):
    merchant, _ = merchant_with_program(currency="EUR")
    today = timezone.localdate()
    fee_plan_create(
        merchant=merchant,
        valid_from=today - datetime.timedelta(days=10),
        monthly_platform_fee=Decimal("100"),
        fee_per_active_member=Decimal("0.01"),
        fee_per_redemption=Decimal("0.5"),
        reward_margin_percent=Decimal("5"),
        currency="GBP",
        actor=SYSTEM,
    )
    reward = RewardFactory(face_currency="USD")
    offered(reward)
    reward.offers.update(cost_currency="CAD")
    select(merchant, reward)
    # An unselected reward's currency is not in use.
    offered(RewardFactory(face_currency="JPY", countries=["JP"]))

    pairs = fx.currency_pairs_in_use(on=today)

    # Face and cost currencies against the program's and the fee plan's currency.
    assert pairs == {("EUR", "USD"), ("GBP", "USD"), ("CAD", "EUR"), ("CAD", "GBP")}
    assert fx.rates_check_staleness() == sorted(f"rate:{a}/{b}" for a, b in pairs)


def test_a_stale_alert_is_cleared_when_the_pair_is_no_longer_in_use(drop_dir):
    merchant, _ = merchant_with_program(currency="EUR")
    (item,) = select(merchant, offered(RewardFactory(face_currency="USD")))
    assert fx.rates_check_staleness() == ["rate:EUR/USD"]

    MerchantCatalogItem.objects.filter(pk=item.pk).update(is_enabled=False)

    assert fx.rates_check_staleness() == []
    assert open_alerts(AlertKind.STALE_RATE) == {}
