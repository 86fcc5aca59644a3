"""GET /api/v1/rewards/ and /api/v1/rewards/{id}/: what a member can redeem, priced."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import services
from catalog.models import CodePool, Reward, SupplierKind, VoucherCode
from core.actors import SYSTEM
from loyalty.models import Member, Program, Tier
from tests.catalog.factories import (
    CategoryFactory,
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    merchant_with_program,
    offered,
    select,
)
from tests.conftest import assert_not_found, assert_problem, make_tenant
from tests.loyalty.factories import member_make

pytestmark = pytest.mark.django_db

URL = "/api/v1/rewards/"


@pytest.fixture
def shop():
    merchant, program = merchant_with_program()
    return make_tenant(merchant), program


def listed(tenant, **params) -> list[str]:
    response = tenant.client.get(URL, {"member": "cust-1", **params})
    assert response.status_code == 200, response.content
    return [reward["slug"] for reward in response.json()["results"]]


def test_a_member_sees_priced_rewards_of_their_country_and_whether_they_can_afford_them(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", points=3000, country="US")
    card = offered(RewardFactory(slug="card", denominations=["10", "25", "50"]))
    select(tenant.merchant, card, price_step=1)

    response = tenant.client.get(URL, {"member": "cust-1"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 1
    (reward,) = body["results"]
    assert reward["id"] == card.pk
    assert reward["denominations"] == [
        {"value": "10.00", "points": 1000, "affordable": True},
        {"value": "25.00", "points": 2500, "affordable": True},
        {"value": "50.00", "points": 5000, "affordable": False},
    ]
    assert (reward["min_points"], reward["max_points"], reward["affordable"]) == (1000, 5000, True)
    assert reward["range"] is None
    assert reward["recipient_fields"] == ["email"]
    assert reward["brand"]["slug"] == card.brand.slug
    assert tenant.client.get(f"{URL}{card.pk}/", {"member": "cust-1"}).json() == reward


def test_country_status_stock_and_tier_decide_what_is_shown(shop):
    tenant, program = shop
    merchant = tenant.merchant
    member_make(merchant, "cust-1", country="US")
    visible = offered(RewardFactory(slug="visible"))
    france = offered(RewardFactory(slug="france", countries=["FR"]))
    paused = offered(RewardFactory(slug="paused"))
    retired = offered(RewardFactory(slug="retired"))
    no_offer_here = offered(RewardFactory(slug="no-offer-here", countries=["US", "FR"]), "FR")
    sold_out = RewardFactory(slug="sold-out", type="physical")
    OfferFactory(reward=sold_out, stock=0)
    supplier_off = RewardFactory(slug="supplier-off")
    OfferFactory(reward=supplier_off, supplier=SupplierFactory(is_active=False))
    gold_only = offered(RewardFactory(slug="gold-only"))
    disabled = offered(RewardFactory(slug="disabled"))
    items = select(
        merchant,
        visible,
        france,
        paused,
        retired,
        no_offer_here,
        sold_out,
        supplier_off,
        gold_only,
        disabled,
    )
    program.tiers_enabled = True
    program.save()
    gold = Tier.objects.create(program=program, name="Gold", threshold=Decimal(1000))
    next(i for i in items if i.reward == gold_only).allowed_tiers.add(gold)
    disabled_item = next(i for i in items if i.reward == disabled)
    disabled_item.is_enabled = False
    services.catalog_item_save(item=disabled_item, actor=SYSTEM)
    services.rewards_set_status(rewards=[paused], status="paused", actor=SYSTEM)
    services.rewards_set_status(rewards=[retired], status="retired", actor=SYSTEM)

    assert listed(tenant) == ["visible"]
    Member.objects.filter(merchant=merchant, external_id="cust-1").update(tier=gold)
    assert sorted(listed(tenant)) == ["gold-only", "visible"]
    # Retired is hidden but kept, with its history.
    assert Reward.objects.filter(pk=retired.pk).exists()
    assert [h.status for h in retired.history.order_by("history_date")] == ["active", "retired"]
    for hidden in (france, paused, retired, no_offer_here, sold_out, supplier_off, disabled):
        assert_not_found(tenant.client.get(f"{URL}{hidden.pk}/", {"member": "cust-1"}))


def test_a_member_in_france_sees_french_rewards_and_one_without_country_the_merchants(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-fr", country="FR")
    member_make(tenant.merchant, "cust-1", country="")
    select(
        tenant.merchant,
        offered(RewardFactory(slug="us-card")),
        offered(RewardFactory(slug="fr-card", countries=["FR"])),
    )
    assert listed(tenant, member="cust-fr") == ["fr-card"]
    assert listed(tenant) == ["us-card"]  # the merchant is in the US


def test_code_pool_offers_are_in_stock_while_free_codes_remain(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", country="US")
    reward = RewardFactory(slug="voucher", type="voucher", denominations=["10"])
    warehouse = SupplierFactory(kind=SupplierKind.WAREHOUSE, adapter="code_pool")
    offer = OfferFactory(reward=reward, supplier=warehouse)
    pool = CodePool.objects.create(offer=offer, face_value=Decimal(10))
    select(tenant.merchant, reward)
    assert listed(tenant) == []
    code = VoucherCode.objects.create(pool=pool, code="ABC-123", digest="d1")
    assert listed(tenant) == ["voucher"]
    codes = VoucherCode.objects.filter(pk=code.pk)
    codes.update(reserved_for="rdm-1-1", reserved_at=code.uploaded_at)  # held for a redemption
    assert listed(tenant) == []
    codes.update(reserved_for="", reserved_at=None, expires_on=datetime.date(2000, 1, 1))
    assert listed(tenant) == []
    codes.update(expires_on=None, used_at=code.uploaded_at)
    assert listed(tenant) == []


def test_filters_by_type_category_and_price_and_pages_in_a_stable_order(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", country="US")
    dining = CategoryFactory(slug="dining")
    cheap = offered(RewardFactory(slug="cheap", denominations=["5"]))
    mid = offered(RewardFactory(slug="mid", denominations=["20"], type="voucher"))
    dear = offered(RewardFactory(slug="dear", denominations=["100"]))
    mid.brand.categories.add(dining)
    select(tenant.merchant, cheap, mid, dear, price_step=1)

    assert listed(tenant) == ["cheap", "mid", "dear"]
    assert listed(tenant, type="voucher") == ["mid"]
    assert listed(tenant, category="dining") == ["mid"]
    assert listed(tenant, min_points=1000) == ["mid", "dear"]
    assert listed(tenant, max_points=2000) == ["cheap", "mid"]
    assert listed(tenant, min_points=600, max_points=2500) == ["mid"]
    first = tenant.client.get(URL, {"member": "cust-1", "page_size": 2}).json()
    second = tenant.client.get(first["next"]).json()
    assert [r["slug"] for r in first["results"] + second["results"]] == ["cheap", "mid", "dear"]


def test_a_range_reward_shows_its_range_and_prices_at_both_ends(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", points=2000, country="US")
    ranged = offered(
        RewardFactory(
            slug="ranged",
            denomination_kind="range",
            denominations=[],
            min_value=Decimal(10),
            max_value=Decimal(200),
            step=Decimal(5),
        )
    )
    select(tenant.merchant, ranged, price_step=10, margin_percent=Decimal("2.5"))
    (reward,) = tenant.client.get(URL, {"member": "cust-1"}).json()["results"]
    assert reward["denomination_kind"] == "range"
    assert reward["denominations"] == []
    assert reward["range"] == {
        "min": "10.00",
        "max": "200.00",
        "step": "5.00",
        "points_per_unit": "102.5000",
        "min_points": 1030,
        "max_points": 20500,
    }
    assert reward["affordable"] is True


def test_texts_come_in_the_members_locale_with_english_as_fallback(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", locale="fr-FR", country="US")
    member_make(tenant.merchant, "cust-de", locale="de", country="US")
    reward = RewardFactory(slug="card", name="Gift card", description="Spend it anywhere.")
    reward.name_fr = "Carte cadeau"
    reward.description_fr = "À dépenser partout."
    reward.save()
    select(tenant.merchant, offered(reward))
    (french,) = tenant.client.get(URL, {"member": "cust-1"}).json()["results"]
    assert (french["name"], french["description"]) == ("Carte cadeau", "À dépenser partout.")
    (german,) = tenant.client.get(URL, {"member": "cust-de"}).json()["results"]
    assert german["name"] == "Gift card"


def test_a_changed_point_value_shows_at_once_before_the_repricing_job(shop):
    tenant, program = shop
    member_make(tenant.merchant, "cust-1", country="US")
    select(tenant.merchant, offered(RewardFactory(denominations=["10"])), price_step=1)
    Program.objects.filter(pk=program.pk).update(point_value=Decimal("0.02"))
    (reward,) = tenant.client.get(URL, {"member": "cust-1"}).json()["results"]
    assert reward["denominations"][0]["points"] == 500


def test_the_query_count_does_not_grow_with_the_rewards(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", country="US")
    category = CategoryFactory()

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = tenant.client.get(URL, {"member": "cust-1"})
        assert response.status_code == 200
        return len(captured.captured_queries)

    rewards = [offered(RewardFactory()) for _ in range(3)]
    for reward in rewards:
        reward.brand.categories.add(category)
    select(tenant.merchant, *rewards)
    count()  # warm the program cache
    few = count()
    more = [offered(RewardFactory()) for _ in range(12)]
    for reward in more:
        reward.brand.categories.add(category)
    select(tenant.merchant, *more)
    count()
    assert count() == few
    assert few <= 6


def test_the_reward_list_query_count_is_pinned(shop, django_assert_max_num_queries):
    tenant, program = shop
    member_make(tenant.merchant, "cust-1", points=5000, country="US")
    category = CategoryFactory()
    rewards = [offered(RewardFactory()) for _ in range(8)]
    rewards.append(
        offered(
            RewardFactory(
                denomination_kind="range",
                denominations=[],
                min_value=Decimal(10),
                max_value=Decimal(200),
                step=Decimal(5),
            )
        )
    )
    for reward in rewards:
        reward.brand.categories.add(category)
    select(tenant.merchant, *rewards)
    tenant.client.get(URL, {"member": "cust-1"})  # warm the program cache
    # Repriced in memory under a changed point value: no more queries for that.
    Program.objects.filter(pk=program.pk).update(point_value=Decimal("0.02"))
    tenant.client.get(URL, {"member": "cust-1"})

    # The key, the member, the count, the page, the categories.
    with django_assert_max_num_queries(5):
        response = tenant.client.get(URL, {"member": "cust-1"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 9


def test_another_merchants_member_and_rewards_are_invisible(shop):
    tenant, _ = shop
    other, _ = merchant_with_program()
    member_make(other, "their-customer", country="US")
    theirs = offered(RewardFactory(slug="theirs"))
    select(other, theirs)
    member_make(tenant.merchant, "cust-1", country="US")
    assert_not_found(tenant.client.get(URL, {"member": "their-customer"}))
    assert_not_found(tenant.client.get(f"{URL}{theirs.pk}/", {"member": "cust-1"}))
    assert listed(tenant) == []


@pytest.mark.parametrize(
    ("params", "attr"),
    [
        ({}, "member"),
        ({"member": ""}, "member"),
        ({"member": "x" * 300}, "member"),
        ({"member": "cust-1", "type": "car"}, "type"),
        ({"member": "cust-1", "min_points": "lots"}, "min_points"),
        ({"member": "cust-1", "min_points": "-1"}, "min_points"),
        ({"member": "cust-1", "max_points": str(10**20)}, "max_points"),
        ({"member": "cust-1", "min_points": "10", "max_points": "5"}, "max_points"),
        ({"member": "cust-1", "category": "not a slug!"}, "category"),
    ],
)
def test_bad_queries_are_400s(shop, params, attr):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", country="US")
    response = tenant.client.get(URL, params)
    assert_problem(response, 400, "invalid_input", attr)


def test_unknown_members_pages_and_ids_are_404s(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", country="US")
    assert_not_found(tenant.client.get(URL, {"member": "nobody"}))
    assert_not_found(tenant.client.get(URL, {"member": "cust-1", "page": 99}))
    assert_not_found(tenant.client.get(f"{URL}{2**70}/", {"member": "cust-1"}))
    assert_not_found(tenant.client.get(f"{URL}0/", {"member": "cust-1"}))


def test_without_a_key_it_is_401(shop):
    from rest_framework.test import APIClient

    response = APIClient().get(URL, {"member": "cust-1"})
    assert response.status_code == 401
