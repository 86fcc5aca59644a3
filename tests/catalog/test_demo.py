from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from catalog.demo import REWARDS
from catalog.demo_images import initials
from catalog.models import (
    Brand,
    Category,
    CodePool,
    DenominationKind,
    MerchantCatalogItem,
    Reward,
    RewardType,
    Supplier,
    SupplierKind,
    SupplierOffer,
)
from catalog.pools import pool_free_count
from loyalty.models import ExchangeRate, Member, Program
from loyalty.rates import convert
from merchants.models import Merchant
from tests.merchants.factories import issue_key

pytestmark = pytest.mark.seeded_demo


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO())
    return out.getvalue()


def snapshot() -> dict[str, int]:
    models = (Brand, Category, Supplier, Reward, SupplierOffer, CodePool, MerchantCatalogItem)
    counts = {model.__name__: model.objects.count() for model in models}
    counts["ExchangeRate"] = ExchangeRate.objects.count()
    counts["Reward history"] = Reward.history.count()
    counts["item history"] = MerchantCatalogItem.history.count()
    return counts


def assert_png(path: Path) -> None:
    assert path.is_file(), path
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()


@pytest.mark.django_db
def test_seed_demo_builds_a_catalog_in_many_countries_currencies_and_types(seeded_demo):
    media = seeded_demo.media

    assert "Demo catalog:" in seeded_demo.output
    rewards = list(Reward.objects.all())
    assert len(rewards) == len(REWARDS) >= 30
    assert len({country.code for reward in rewards for country in reward.countries}) >= 8
    currencies = {reward.face_currency for reward in rewards}
    assert {"USD", "EUR", "GBP", "JPY", "KWD", "CAD", "AUD"} <= currencies
    assert {reward.type for reward in rewards} == set(RewardType.values)
    assert {reward.denomination_kind for reward in rewards} == set(DenominationKind.values)
    assert "2.500" in Reward.objects.get(slug="oasis-market-card-kw").denominations
    assert Reward.objects.get(slug="stream-nine-card-jp").denominations[0] == "1500"
    assert Reward.objects.get(slug="oasis-market-egift-kw").step == Decimal("0.250")
    assert Reward.objects.exclude(description_fr="").count() >= 3
    assert Reward.objects.exclude(description_ja="").count() >= 3
    assert Brand.objects.exclude(description_de="").exists()
    assert all(brand.categories.exists() for brand in Brand.objects.all())
    assert set(Supplier.objects.values_list("kind", flat=True)) == set(SupplierKind.values)
    physical = SupplierOffer.objects.filter(reward__type=RewardType.PHYSICAL)
    assert physical.exists()
    assert not physical.filter(stock__isnull=True).exists()
    pool = CodePool.objects.get()
    assert pool.offer.reward.type == RewardType.VOUCHER
    assert pool_free_count(pool) > pool.low_stock_threshold
    for reward in rewards:
        offered = set(reward.offers.values_list("country", flat=True))
        assert offered == {country.code for country in reward.countries}, reward.slug

    # Each merchant with a program offers its country's rewards, priced at demo rates.
    programs = list(Program.objects.filter(is_active=True).select_related("merchant"))
    assert len(programs) >= 3
    now = timezone.now()
    for program in programs:
        for currency in currencies:
            convert(amount=Decimal(1), from_currency=currency, to_currency=program.currency, at=now)
        items = MerchantCatalogItem.objects.filter(merchant=program.merchant, is_enabled=True)
        assert items.count() >= 5, program.merchant
        assert not items.filter(min_points__isnull=True).exists()
        assert not items.exclude(pricing_error="").exists()
        assert not items.filter(needs_review=True).exists()
        for item in items.select_related("reward"):
            assert program.merchant.country in item.reward.countries
            assert 0 < item.min_points <= item.max_points
            assert item.margin_percent > 0
    converted = MerchantCatalogItem.objects.filter(exchange_rate__isnull=False)
    assert converted.values("merchant").distinct().count() == len(programs)

    # Logos and card images are PNG files drawn into MEDIA_ROOT.
    for brand in Brand.objects.all():
        assert_png(Path(brand.logo.path))
        assert_png(Path(brand.card_image.path))
    for reward in rewards:
        assert reward.image.name.endswith(".png")
        assert Path(reward.image.path).is_relative_to(media)
        assert_png(Path(reward.image.path))
    with Image.open(Brand.objects.get(slug="harbor-pine").logo.path) as logo:
        assert logo.size == (256, 256)


@pytest.mark.django_db
def test_a_demo_member_sees_rewards_of_every_type_with_prices_through_the_api(seeded_demo):
    merchant = Merchant.objects.get(slug="northwind")
    member = Member.objects.filter(merchant=merchant).order_by("pk").first()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key(merchant)[1]}")

    response = client.get("/api/v1/rewards/", {"member": member.external_id, "page_size": 100})

    assert response.status_code == 200, response.content
    rewards = response.json()["results"]
    assert {reward["type"] for reward in rewards} == set(RewardType.values)
    assert all(reward["image"] and reward["brand"]["logo"] for reward in rewards)
    assert {reward["denomination_kind"] for reward in rewards} == {"fixed", "range"}
    assert all(0 < reward["min_points"] <= reward["max_points"] for reward in rewards)


def test_brand_initials_take_two_words_or_two_capitals():
    assert initials("Harbor & Pine") == "HP"
    assert initials("PixelPlay") == "PP"
    assert initials("Kaze") == "KA"


@pytest.mark.django_db
def test_seed_demo_again_duplicates_nothing_and_restores_only_what_is_missing(seeded_demo):
    media = seeded_demo.media
    first = snapshot()
    files = sorted(path for path in media.rglob("*") if path.is_file())

    out = seed_demo()

    assert snapshot() == first
    assert sorted(path for path in media.rglob("*") if path.is_file()) == files
    assert "(0 created or updated)" in out
    assert "0 items added" in out

    # A lost file is drawn again; a file left by another database is replaced, not copied.
    reward = Reward.objects.get(slug="kaze-books-card")
    Path(reward.image.path).unlink()
    Reward.objects.filter(pk=reward.pk).update(name_en="Renamed", name="Renamed")
    Reward.objects.filter(slug="pixelplay-card-uk").update(image="")
    Brand.objects.filter(slug="greenleaf").update(logo="")

    out = seed_demo()

    reward.refresh_from_db()
    assert reward.name_en == "Kaze Books gift card"
    assert_png(Path(reward.image.path))
    assert (
        Reward.objects.get(slug="pixelplay-card-uk").image.name == "rewards/pixelplay-card-uk.png"
    )
    assert Brand.objects.get(slug="greenleaf").logo.name == "brands/logos/greenleaf.png"
    assert sorted(path for path in media.rglob("*") if path.is_file()) == files
    assert "(2 created or updated)" in out
    assert Reward.objects.count() == first["Reward"]
    assert MerchantCatalogItem.objects.count() == first["MerchantCatalogItem"]
