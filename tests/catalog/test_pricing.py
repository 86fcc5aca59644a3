"""Point prices: automatic from face value, rate, point value and margin, rounded to the
merchant's step; fixed overrides; several currencies including JPY (no decimals) and KWD
(three)."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog import pricing, services
from catalog.denominations import Denominations
from catalog.exceptions import InvalidPriceOverride
from catalog.models import AlertKind, CatalogAlert, MerchantCatalogItem
from core.actors import SYSTEM
from merchants.models import ChecklistItem, FeePlan
from tests.catalog.factories import (
    OfferFactory,
    RewardFactory,
    merchant_with_program,
    offered,
    rate,
    select,
)


def terms(**overrides) -> pricing.PriceTerms:
    base = {
        "point_value": Decimal("0.01"),
        "program_currency": "USD",
        "rate": Decimal(1),
        "margin_percent": Decimal(0),
        "step": 1,
        "rounding": "up",
    }
    return pricing.PriceTerms(**{**base, **overrides})


@pytest.mark.parametrize(
    ("face", "overrides", "points"),
    [
        ("25", {}, 2500),
        ("25", {"margin_percent": Decimal("10")}, 2750),
        ("25", {"step": 100, "margin_percent": Decimal("1")}, 2600),  # 2525 up to 2600
        ("25", {"step": 100, "margin_percent": Decimal("1"), "rounding": "nearest"}, 2500),
        ("25.50", {"step": 100, "rounding": "nearest"}, 2600),  # 2550: half up
        ("0.01", {"step": 50}, 50),  # never below one step
        # EUR face, USD program: 25 EUR x 1.0834 = 27.085 -> 27.09 USD -> 2709 points.
        ("25", {"rate": Decimal("1.0834")}, 2709),
        # KWD face (3 decimals): 10 KWD x 3.2544 = 32.544 -> 32.54 USD.
        ("10", {"rate": Decimal("3.2544"), "step": 10}, 3260),
        # JPY program (no decimals), a point worth 1 JPY: 25 EUR x 160.5 = 4012.5 -> 4013.
        (
            "25",
            {"rate": Decimal("160.5"), "program_currency": "JPY", "point_value": Decimal(1)},
            4013,
        ),
        # KWD program (3 decimals), a point worth 0.005 KWD: 10 USD x 0.3073 = 3.073 KWD.
        (
            "10",
            {"rate": Decimal("0.3073"), "program_currency": "KWD", "point_value": Decimal("0.005")},
            615,
        ),
    ],
)
def test_auto_price(face, overrides, points):
    assert pricing.auto_price(Decimal(face), terms(**overrides)) == points


def test_item_prices_of_a_range_are_its_ends_and_any_step_prices_alike():
    rule = Denominations(
        kind="range", minimum=Decimal(10), maximum=Decimal(200), step=Decimal(5), currency="USD"
    )
    price_terms = terms(step=10, margin_percent=Decimal("2.5"))
    prices = pricing.item_prices(rule, price_terms)
    assert prices.prices == {"10.00": 1030, "200.00": 20500}
    assert (prices.min_points, prices.max_points) == (1030, 20500)
    assert prices.points_per_unit == Decimal("102.5")
    assert pricing.price_of(Decimal(15), rule, price_terms) == 1540  # 1537.5 up to the step
    fixed = pricing.item_prices(rule, price_terms, fixed_points_per_unit=Decimal(80))
    assert fixed.prices == {"10.00": 800, "200.00": 16000}


@pytest.mark.django_db
def test_a_merchant_item_is_priced_in_its_program_currency_with_the_rate_kept():
    merchant, _ = merchant_with_program(country="JP", currency="JPY", point_value="1")
    used = rate("EUR", "JPY", "160.5")
    rate("EUR", "JPY", "150", as_of=timezone.now() - datetime.timedelta(days=3))  # older
    reward = offered(RewardFactory(face_currency="EUR", countries=["JP"], denominations=["25"]))
    (item,) = select(merchant, reward, price_step=10)
    assert item.prices == {"25.00": 4020}  # 4013 up to the step of 10
    assert item.exchange_rate == used
    assert item.rate_used == Decimal("160.5")
    assert item.point_value_used == Decimal(1)


@pytest.mark.django_db
def test_the_inverse_rate_serves_and_kwd_faces_keep_three_decimals():
    merchant, _ = merchant_with_program()
    rate("USD", "KWD", "0.30728")  # only the opposite pair is known
    reward = offered(
        RewardFactory(face_currency="KWD", countries=["US"], denominations=["5.250", "10"])
    )
    (item,) = select(merchant, reward, price_step=1)
    # 5.250 KWD / 0.30728 = 17.0854... -> 17.09 USD; 10 KWD -> 32.54 USD.
    assert item.prices == {"5.250": 1709, "10.000": 3254}


@pytest.mark.django_db
def test_no_rate_means_no_price_and_the_error_is_shown():
    merchant, _ = merchant_with_program()
    reward = offered(RewardFactory(face_currency="GBP"))
    (item,) = select(merchant, reward)
    assert item.prices == {}
    assert item.min_points is None
    assert "GBP" in item.pricing_error


@pytest.mark.django_db
def test_fixed_overrides_win_and_bad_ones_are_refused():
    merchant, _ = merchant_with_program()
    reward = offered(RewardFactory(denominations=["10", "25"]))
    (item,) = select(merchant, reward, price_step=1)
    item.fixed_prices = {"25": 2000}
    services.catalog_item_save(item=item, actor=SYSTEM)
    assert item.prices == {"10.00": 1000, "25.00": 2000}
    for bad in ({"30": 100}, {"25": 0}, {"25": 10.5}, {"25": True}, ["25"]):
        item.fixed_prices = bad
        with pytest.raises(InvalidPriceOverride):
            services.catalog_item_save(item=item, actor=SYSTEM)
    item.fixed_prices = {}
    item.fixed_points_per_unit = Decimal(50)  # only for ranges
    with pytest.raises(InvalidPriceOverride):
        services.catalog_item_save(item=item, actor=SYSTEM)
    assert MerchantCatalogItem.objects.get(pk=item.pk).prices == {"10.00": 1000, "25.00": 2000}


@pytest.mark.django_db
def test_repricing_follows_rates_face_values_and_keeps_the_previous_price():
    merchant, program = merchant_with_program()
    rate("EUR", "USD", "1.10")
    reward = offered(RewardFactory(face_currency="EUR", denominations=["10"]))
    (item,) = select(merchant, reward, price_step=1)
    assert item.prices == {"10.00": 1100}

    rate("EUR", "USD", "1.20", as_of=timezone.now())
    assert services.catalog_items_reprice(currencies=["EUR"]) == 1
    item.refresh_from_db()
    assert item.prices == {"10.00": 1200}

    reward.denominations = ["20"]
    services.reward_save(reward=reward, actor=SYSTEM)
    item.refresh_from_db()
    assert item.prices == {"20.00": 2400}

    program.point_value = Decimal("0.02")
    program.save()
    assert services.catalog_items_reprice(merchant_ids=[merchant.pk]) == 1
    item.refresh_from_db()
    assert item.prices == {"20.00": 1200}
    history = [h.prices for h in item.history.order_by("history_date", "history_id")]
    assert history == [{"10.00": 1100}, {"10.00": 1200}, {"20.00": 2400}, {"20.00": 1200}]
    assert services.catalog_items_reprice() == 0  # nothing changed: nothing written


@pytest.mark.django_db
def test_selecting_ticks_the_checklist_and_retired_rewards_are_not_added():
    merchant, _ = merchant_with_program()
    merchant.checklist.filter(item=ChecklistItem.CATALOG_SELECTED).update(completed_at=None)
    retired = RewardFactory(status="retired")
    assert select(merchant, retired) == []
    assert not merchant.checklist.get(item=ChecklistItem.CATALOG_SELECTED).completed_at
    select(merchant, offered(RewardFactory()))
    assert merchant.checklist.get(item=ChecklistItem.CATALOG_SELECTED).completed_at


@pytest.mark.django_db
def test_a_reward_costing_more_than_the_fee_plan_recovers_is_flagged():
    merchant, _ = merchant_with_program()
    FeePlan.objects.create(
        merchant=merchant,
        currency="USD",
        monthly_platform_fee=Decimal(0),
        fee_per_active_member=Decimal(0),
        fee_per_redemption=Decimal("0.50"),
        reward_margin_percent=Decimal("2"),
        valid_from=datetime.date(2020, 1, 1),
    )
    cheap = RewardFactory(denominations=["10"])
    OfferFactory(reward=cheap, discount_percent=Decimal("5"), fee=Decimal("0"))
    dear = RewardFactory(denominations=["10"])
    # 10 - 0% + 1.00 fee = 11.00 > 10 x 1.02 + 0.50 = 10.70
    OfferFactory(reward=dear, discount_percent=Decimal("0"), fee=Decimal("1.00"))
    fine, flagged = select(merchant, cheap, dear)
    assert not fine.needs_review
    assert flagged.needs_review
    assert "11.00" in flagged.review_note
    alert = CatalogAlert.objects.get(kind=AlertKind.COST_ABOVE_RECOVERY)
    assert alert.subject == f"catalog-item:{merchant.pk}:{dear.pk}"
    assert alert.resolved_at is None


@pytest.mark.django_db
def test_saving_the_program_reprices_its_merchants_catalog_after_commit(
    django_capture_on_commit_callbacks,
):
    from loyalty.services.programs import program_configure

    merchant, _ = merchant_with_program()
    other, _ = merchant_with_program()
    (item,) = select(merchant, offered(RewardFactory(denominations=["10"])), price_step=1)
    (untouched,) = select(other, offered(RewardFactory(denominations=["10"])), price_step=1)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        program_configure(merchant=merchant, actor=SYSTEM, point_value=Decimal("0.005"))

    assert len(callbacks) == 1
    item.refresh_from_db()
    untouched.refresh_from_db()
    assert item.prices == {"10.00": 2000}
    assert item.point_value_used == Decimal("0.005")
    assert untouched.prices == {"10.00": 1000}


@pytest.mark.django_db
def test_a_rate_entered_in_the_admin_reprices_items_in_that_currency(
    admin_client, django_capture_on_commit_callbacks
):
    merchant, _ = merchant_with_program()
    rate("EUR", "USD", "1.10", as_of=timezone.now() - datetime.timedelta(days=1))
    (item,) = select(
        merchant, offered(RewardFactory(face_currency="EUR", denominations=["10"])), price_step=1
    )
    assert item.prices == {"10.00": 1100}
    # Five minutes ago, its date included (a run just after midnight stays in the past).
    earlier = timezone.localtime(timezone.now() - datetime.timedelta(minutes=5))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/loyalty/exchangerate/add/",
            {
                "base": "EUR",
                "quote": "USD",
                "rate": "1.25",
                "source": "manual",
                "as_of_0": earlier.strftime("%Y-%m-%d"),
                "as_of_1": earlier.strftime("%H:%M:%S"),
            },
        )

    assert response.status_code == 302, response.content[:2000]
    item.refresh_from_db()
    assert item.prices == {"10.00": 1250}
    assert item.rate_used == Decimal("1.25")


@pytest.mark.django_db
def test_imported_rates_reprice_items_but_a_dry_run_does_not(django_capture_on_commit_callbacks):
    import tablib

    from loyalty.resources import ExchangeRateResource

    merchant, _ = merchant_with_program()
    rate("GBP", "USD", "1.20", as_of=timezone.now() - datetime.timedelta(days=1))
    (item,) = select(
        merchant, offered(RewardFactory(face_currency="GBP", denominations=["10"])), price_step=1
    )
    as_of = (timezone.now() - datetime.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    dataset = tablib.Dataset(
        ["GBP", "USD", "1.30", "file", as_of], headers=["base", "quote", "rate", "source", "as_of"]
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = ExchangeRateResource().import_data(dataset, dry_run=True)
    assert not result.has_errors()
    assert callbacks == []

    with django_capture_on_commit_callbacks(execute=True):
        result = ExchangeRateResource().import_data(dataset, dry_run=False)
    assert not result.has_errors()
    item.refresh_from_db()
    assert item.prices == {"10.00": 1300}
