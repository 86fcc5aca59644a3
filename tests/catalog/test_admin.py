"""The Catalog team's admin through the test client: pages for superusers and Catalog
staff, reward filters and status actions, saves through the services, the merchant
catalog and its add-rewards page, alerts and code pools."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.alerts import alert_raise
from catalog.models import (
    AlertKind,
    Brand,
    CatalogAlert,
    CodePool,
    MerchantCatalogItem,
    Reward,
    RewardStatus,
    RewardType,
    VoucherCode,
)
from core.actors import SYSTEM
from loyalty.services.programs import program_configure
from merchants.models import ChecklistItem
from merchants.selectors import checklist_missing
from tests.catalog.factories import (
    BrandFactory,
    CategoryFactory,
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    merchant_with_program,
    offered,
    rate,
    select,
)
from tests.merchants.factories import MerchantFactory, staff_in

pytestmark = pytest.mark.django_db

REWARDS = reverse("admin:catalog_reward_changelist")
ITEMS = reverse("admin:catalog_merchantcatalogitem_changelist")
ADD_REWARDS = reverse("admin:catalog_merchantcatalogitem_add_rewards")


@pytest.fixture
def catalog_client(client):
    client.force_login(staff_in("Catalog"))
    return client


@pytest.fixture
def finance_client(client):
    client.force_login(staff_in("Finance"))
    return client


def reward_form(**overrides) -> dict:
    brand = overrides.pop("brand", None) or BrandFactory()
    data = {
        "brand": brand.pk,
        "type": RewardType.GIFT_CARD,
        "slug": "cinema-fr",
        "name_en": "Cinema",
        "status": RewardStatus.DRAFT,
        "countries": ["FR", "BE"],
        "face_currency": "EUR",
        "denomination_kind": "fixed",
        "denominations": "50|10|25",
        "min_value": "",
        "max_value": "",
        "step": "",
        "recipient_fields": ["email"],
        "delivered_expiry_months": "",
        "offers-TOTAL_FORMS": "0",
        "offers-INITIAL_FORMS": "0",
        "offers-MIN_NUM_FORMS": "0",
        "offers-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def catalog_graph():
    """A little of everything, so every page has rows to show."""
    supplier = SupplierFactory(slug="giftco")
    reward = offered(RewardFactory(countries=["FR", "DE"], face_currency="EUR"), "FR")
    offer = reward.offers.get()
    offer.supplier = supplier
    offer.save()
    pool = CodePool.objects.create(offer=offer, face_value=Decimal("10"))
    merchant, _ = merchant_with_program()
    rate("EUR", "USD", "1.10")
    (item,) = select(merchant, reward)
    alert = alert_raise(kind=AlertKind.LOW_STOCK, subject=f"pool:{pool.pk}", message="low")
    return {"reward": reward, "offer": offer, "pool": pool, "item": item, "alert": alert}


# -- pages -------------------------------------------------------------------------------------


PAGES = [
    "admin:catalog_brand_changelist",
    "admin:catalog_brand_add",
    "admin:catalog_category_changelist",
    "admin:catalog_category_add",
    "admin:catalog_supplier_changelist",
    "admin:catalog_supplier_add",
    "admin:catalog_reward_changelist",
    "admin:catalog_reward_add",
    "admin:catalog_reward_import",
    "admin:catalog_reward_export",
    "admin:catalog_brand_import",
    "admin:catalog_supplieroffer_changelist",
    "admin:catalog_supplieroffer_import",
    "admin:catalog_codepool_changelist",
    "admin:catalog_codepool_add",
    "admin:catalog_vouchercode_changelist",
    "admin:catalog_catalogalert_changelist",
    "admin:catalog_merchantcatalogitem_changelist",
    "admin:catalog_merchantcatalogitem_add",
    "admin:catalog_merchantcatalogitem_add_rewards",
]

OBJECT_PAGES = [
    ("admin:catalog_reward_change", "reward"),
    ("admin:catalog_reward_history", "reward"),
    ("admin:catalog_supplieroffer_change", "offer"),
    ("admin:catalog_codepool_change", "pool"),
    ("admin:catalog_merchantcatalogitem_change", "item"),
    ("admin:catalog_merchantcatalogitem_history", "item"),
    ("admin:catalog_catalogalert_change", "alert"),
]


@pytest.mark.parametrize("who", ["superuser", "catalog"])
def test_every_catalog_page_loads_for_superusers_and_catalog_staff(
    who, admin_client, catalog_client
):
    client = admin_client if who == "superuser" else catalog_client
    objects = catalog_graph()
    for name in PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 200, (name, response.status_code)
    for name, key in OBJECT_PAGES:
        response = client.get(reverse(name, args=[objects[key].pk]))
        assert response.status_code == 200, (name, response.status_code)
    brand = objects["reward"].brand
    assert client.get(reverse("admin:catalog_brand_change", args=[brand.pk])).status_code == 200


def test_finance_staff_see_rewards_but_cannot_change_or_import_them(finance_client):
    reward = RewardFactory()
    response = finance_client.get(REWARDS)
    assert response.status_code == 200
    assert reward.name.encode() in response.content
    assert b'value="set_paused"' not in response.content
    assert finance_client.get(reverse("admin:catalog_reward_import")).status_code == 403
    finance_client.post(REWARDS, {"action": "set_retired", "_selected_action": [reward.pk]})
    assert Reward.objects.get(pk=reward.pk).status == RewardStatus.ACTIVE


def test_codes_are_never_shown_in_the_pool_and_code_lists(admin_client):
    pool = catalog_graph()["pool"]
    for n in range(3):
        VoucherCode.objects.create(pool=pool, code=f"SECRET-CODE-{n}", pin="9876", digest=f"d{n}")
    VoucherCode.objects.filter(digest="d0").update(used_at=timezone.now())
    VoucherCode.objects.filter(digest="d1").update(
        reserved_for="rdm-1-1", reserved_at=timezone.now()
    )
    pools = admin_client.get(reverse("admin:catalog_codepool_changelist")).content.decode()
    assert re.search(r"field-free_codes[^>]*>1<", pools)
    assert re.search(r"field-reserved_codes[^>]*>1<", pools)
    assert re.search(r"field-used_codes[^>]*>1<", pools)
    for url in (
        reverse("admin:catalog_codepool_changelist"),
        reverse("admin:catalog_codepool_change", args=[pool.pk]),
        reverse("admin:catalog_vouchercode_changelist"),
    ):
        content = admin_client.get(url).content.decode()
        assert "SECRET-CODE" not in content
        assert "9876" not in content


# -- the reward list ---------------------------------------------------------------------------


def make_rewards(count: int, start: int = 0) -> None:
    supplier = SupplierFactory()
    for n in range(start, start + count):
        reward = RewardFactory(countries=["FR", "DE"] if n % 2 else ["US"])
        OfferFactory(reward=reward, supplier=supplier, country=reward.countries[0].code)


@pytest.mark.parametrize(("who", "queries"), [("superuser", 7), ("catalog", 9)])
def test_reward_changelist_query_count_does_not_grow_with_rows(
    who, queries, admin_client, catalog_client, django_assert_max_num_queries
):
    # Session, user (and a staff user's two permission queries), the country, supplier
    # and brand filters, the count and the page.
    client = admin_client if who == "superuser" else catalog_client
    make_rewards(3)
    client.get(REWARDS)
    with django_assert_max_num_queries(queries):
        assert client.get(REWARDS).status_code == 200
    make_rewards(30, start=3)
    with django_assert_max_num_queries(queries):
        response = client.get(REWARDS)
    assert response.status_code == 200
    assert response.content.count(b'name="_selected_action"') == 33


def test_reward_list_filters_by_country_in_use_with_whole_codes_only(admin_client):
    fr = RewardFactory(name="Paris spa", countries=["FR", "DE"], face_currency="EUR")
    us = RewardFactory(name="NY diner", countries=["US"])
    page = admin_client.get(REWARDS).content.decode()
    assert "?country=FR" in page
    assert "?country=DE" in page
    assert "?country=GB" not in page  # only countries in use are offered

    in_de = admin_client.get(REWARDS, {"country": "DE"}).content.decode()
    assert fr.name in in_de
    assert us.name not in in_de
    in_us = admin_client.get(REWARDS, {"country": "US"}).content.decode()
    assert us.name in in_us
    assert fr.name not in in_us
    assert fr.name not in admin_client.get(REWARDS, {"country": "R"}).content.decode()
    assert fr.name not in admin_client.get(REWARDS, {"country": "F.*"}).content.decode()


def test_reward_list_filters_by_supplier_brand_type_status_and_searches(admin_client):
    brand = BrandFactory(name="Acme Brand", slug="acme-brand")
    supplier = SupplierFactory(slug="giftco")
    OfferFactory(supplier=SupplierFactory(slug="other-supplier"))
    mine = RewardFactory(name="Acme card", brand=brand)
    OfferFactory(reward=mine, supplier=supplier, country="US")
    OfferFactory(reward=mine, supplier=supplier, country="CA")
    other = RewardFactory(name="Other card", type=RewardType.DONATION, status="paused")

    by_supplier = admin_client.get(REWARDS, {"offers__supplier__id__exact": supplier.pk})
    assert by_supplier.content.count(b"Acme card</a>") == 1  # two offers, listed once
    assert b"Other card" not in by_supplier.content
    assert b"Acme card" not in admin_client.get(REWARDS, {"type__exact": "donation"}).content
    assert b"Other card" in admin_client.get(REWARDS, {"status__exact": "paused"}).content
    assert b"Other card" not in admin_client.get(REWARDS, {"brand__id__exact": brand.pk}).content
    found = admin_client.get(REWARDS, {"q": "acme-brand"}).content
    assert b"Acme card" in found
    assert other.name.encode() not in found


@pytest.mark.parametrize(
    ("action", "status"),
    [("set_paused", "paused"), ("set_retired", "retired"), ("set_active", "active")],
)
def test_status_actions_change_status_through_the_service_with_history(
    admin_client, admin_user, action, status
):
    rewards = [RewardFactory(status="draft"), RewardFactory(status="draft")]
    before = Reward.history.count()
    response = admin_client.post(
        REWARDS, {"action": action, "_selected_action": [r.pk for r in rewards]}, follow=True
    )
    assert b"2 reward(s) now" in response.content
    for reward in rewards:
        reward.refresh_from_db()
        assert reward.status == status
        latest = reward.history.latest()
        assert (latest.status, latest.history_user) == (status, admin_user)
    assert Reward.history.count() == before + 2


def test_retired_rewards_can_be_brought_back_and_are_never_deleted(admin_client):
    reward = RewardFactory()
    admin_client.post(REWARDS, {"action": "set_retired", "_selected_action": [reward.pk]})
    delete_url = reverse("admin:catalog_reward_delete", args=[reward.pk])
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    admin_client.post(
        REWARDS, {"action": "delete_selected", "_selected_action": [reward.pk], "post": "yes"}
    )
    assert b'value="delete_selected"' not in admin_client.get(REWARDS).content
    admin_client.post(REWARDS, {"action": "set_active", "_selected_action": [reward.pk]})
    assert Reward.objects.get(pk=reward.pk).status == RewardStatus.ACTIVE


# -- saving a reward ----------------------------------------------------------------------------


def test_reward_added_in_the_admin_is_saved_by_the_service(admin_client, admin_user):
    response = admin_client.post(reverse("admin:catalog_reward_add"), reward_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    reward = Reward.objects.get(slug="cinema-fr")
    assert reward.denominations == ["10.00", "25.00", "50.00"]  # normalised by reward_save
    assert [c.code for c in reward.countries] == ["BE", "FR"]
    assert reward.history.get().history_user == admin_user


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"denominations": "10|abc"}, "is not a positive amount"),
        ({"denominations": "10.001"}, "decimal place"),
        ({"denominations": "10|10"}, "listed twice"),
        ({"denomination_kind": "range", "denominations": "", "min_value": "5"}, "Required"),
        ({"countries": []}, "This field is required"),
    ],
)
def test_reward_refused_by_the_rules_is_a_form_error_and_nothing_is_saved(
    admin_client, overrides, message
):
    response = admin_client.post(reverse("admin:catalog_reward_add"), reward_form(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Reward.objects.filter(slug="cinema-fr").exists()


def test_reward_change_of_face_values_reprices_the_merchants_items(admin_client):
    reward = offered(RewardFactory(denominations=["10", "25"]))
    merchant, _ = merchant_with_program()
    (item,) = select(merchant, reward)
    assert set(item.prices) == {"10.00", "25.00"}
    url = reverse("admin:catalog_reward_change", args=[reward.pk])
    data = reward_form(
        brand=reward.brand,
        slug=reward.slug,
        name_en=reward.name,
        countries=["US"],
        face_currency="USD",
        denominations="10|25|100",
    )
    data.pop("status")
    data.update({"offers-TOTAL_FORMS": "0", "offers-INITIAL_FORMS": "0"})
    offer = reward.offers.get()
    data.update(
        {
            "offers-TOTAL_FORMS": "1",
            "offers-INITIAL_FORMS": "1",
            "offers-0-id": offer.pk,
            "offers-0-reward": reward.pk,
            "offers-0-supplier": offer.supplier_id,
            "offers-0-supplier_sku": offer.supplier_sku,
            "offers-0-country": "US",
            "offers-0-cost_currency": "USD",
            "offers-0-discount_percent": "5",
            "offers-0-fee": "0",
            "offers-0-preference": "100",
            "offers-0-is_active": "on",
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    item.refresh_from_db()
    assert set(item.prices) == {"10.00", "25.00", "100.00"}
    assert Reward.objects.get(pk=reward.pk).status == RewardStatus.ACTIVE


# -- merchant catalogs -----------------------------------------------------------------------


def test_item_changelist_query_count_does_not_grow_with_rows(
    catalog_client, django_assert_max_num_queries
):
    merchant, _ = merchant_with_program()
    other, _ = merchant_with_program()
    select(other, offered(RewardFactory()))
    select(merchant, *(offered(RewardFactory()) for _ in range(3)))
    catalog_client.get(ITEMS)
    # Session, user, two permission queries, the merchant filter, the count and the page.
    with django_assert_max_num_queries(7):
        assert catalog_client.get(ITEMS).status_code == 200
    select(merchant, *(offered(RewardFactory()) for _ in range(25)))
    with django_assert_max_num_queries(7):
        response = catalog_client.get(ITEMS, {"merchant__id__exact": merchant.pk})
    assert response.status_code == 200
    assert response.content.count(b'<td class="field-merchant') == 28
    assert ADD_REWARDS.encode() in response.content


def fresh_merchant_with_program():
    """A merchant still onboarding (its checklist open) with a program in USD."""
    merchant = MerchantFactory(country="FR", default_currency="USD")
    program_configure(
        merchant=merchant,
        actor=SYSTEM,
        name="P",
        point_value=Decimal("0.01"),
        base_earn_rate=Decimal("1"),
        pending_days=0,
    )
    return merchant


def test_add_rewards_page_lists_matching_active_rewards_then_adds_the_chosen_ones(
    catalog_client,
):
    merchant = fresh_merchant_with_program()
    assert ChecklistItem.CATALOG_SELECTED in checklist_missing(merchant=merchant)
    spa = offered(RewardFactory(name="Spa", countries=["FR", "DE"], denominations=["10", "25"]))
    cinema = offered(RewardFactory(name="Cinema", countries=["FR"], denominations=["50"]))
    RewardFactory(name="Paused one", countries=["FR"], status="paused")
    RewardFactory(name="Elsewhere", countries=["US"])
    RewardFactory(name="A donation", countries=["FR"], type=RewardType.DONATION)
    criteria = {"merchant": merchant.pk, "country": "FR", "type": RewardType.GIFT_CARD}

    page = catalog_client.get(ADD_REWARDS, criteria).content.decode()
    assert "Spa" in page
    assert "Cinema" in page
    for absent in ("Paused one", "Elsewhere", "A donation"):
        assert absent not in page

    response = catalog_client.post(
        ADD_REWARDS,
        {**criteria, "margin_percent": "10", "price_step": "5", "reward": [spa.pk, cinema.pk]},
    )
    assert response.status_code == 200
    items = MerchantCatalogItem.objects.filter(merchant=merchant).order_by("reward__name")
    assert [i.reward for i in items] == [cinema, spa]
    spa_item = items.get(reward=spa)
    # 10 USD at 0.01 USD a point is 1000 points, plus 10 %.
    assert spa_item.prices == {"10.00": 1100, "25.00": 2750}
    assert spa_item.margin_percent == Decimal("10")
    assert spa_item.price_step == 5
    content = response.content.decode()
    assert "1,100" in content
    assert "2,750" in content
    assert "in the catalog" in content  # both are now shown as present
    assert ChecklistItem.CATALOG_SELECTED not in checklist_missing(merchant=merchant)

    again = catalog_client.post(ADD_REWARDS, {**criteria, "reward": [spa.pk]})
    assert "already in the catalog" in again.content.decode()
    assert MerchantCatalogItem.objects.filter(merchant=merchant).count() == 2


def test_add_rewards_only_adds_rewards_matching_the_criteria(catalog_client):
    merchant = fresh_merchant_with_program()
    elsewhere = RewardFactory(countries=["US"])
    catalog_client.post(
        ADD_REWARDS,
        {"merchant": merchant.pk, "country": "FR", "type": "gift_card", "reward": [elsewhere.pk]},
    )
    assert not MerchantCatalogItem.objects.filter(merchant=merchant).exists()


def test_add_rewards_without_a_program_says_so_and_adds_nothing(catalog_client):
    merchant = MerchantFactory(country="FR")
    reward = RewardFactory(countries=["FR"])
    response = catalog_client.post(
        ADD_REWARDS,
        {"merchant": merchant.pk, "country": "FR", "type": "gift_card", "reward": [reward.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "program" in response.content.decode()
    assert not MerchantCatalogItem.objects.filter(merchant=merchant).exists()


@pytest.mark.parametrize("bad", [{"margin_percent": "2000"}, {"price_step": "0"}])
def test_add_rewards_refuses_bad_terms(catalog_client, bad):
    merchant = fresh_merchant_with_program()
    reward = RewardFactory(countries=["FR"])
    response = catalog_client.post(
        ADD_REWARDS,
        {
            "merchant": merchant.pk,
            "country": "FR",
            "type": "gift_card",
            "reward": [reward.pk],
            **bad,
        },
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not MerchantCatalogItem.objects.filter(merchant=merchant).exists()


def test_add_rewards_needs_the_right_to_add_items(finance_client):
    assert finance_client.get(ADD_REWARDS).status_code == 403


def item_form(item: MerchantCatalogItem, **overrides) -> dict:
    data = {
        "is_enabled": "on",
        "margin_percent": str(item.margin_percent),
        "price_step": str(item.price_step),
        "price_rounding": item.price_rounding,
        "fixed_prices": "{}",
        "fixed_points_per_unit": "",
        "limit_per_month": "",
        "limit_ever": "",
    }
    data.update(overrides)
    return data


def test_item_saved_in_the_admin_is_repriced_by_the_service(admin_client, admin_user):
    merchant, _ = merchant_with_program()
    (item,) = select(merchant, offered(RewardFactory(denominations=["10"])))
    url = reverse("admin:catalog_merchantcatalogitem_change", args=[item.pk])
    response = admin_client.post(url, item_form(item, fixed_prices='{"10": 777}'))
    assert response.status_code == 302, response.content.decode()[:3000]
    item.refresh_from_db()
    assert item.prices == {"10.00": 777}
    assert item.history.latest().history_user == admin_user
    assert "777" in admin_client.get(url).content.decode()


@pytest.mark.parametrize("fixed_prices", ['{"30": 100}', '{"10": -5}', '{"10": "many"}', '["10"]'])
def test_item_price_override_refused_by_the_rules_is_a_form_error(admin_client, fixed_prices):
    merchant, _ = merchant_with_program()
    (item,) = select(merchant, offered(RewardFactory(denominations=["10"])))
    url = reverse("admin:catalog_merchantcatalogitem_change", args=[item.pk])
    response = admin_client.post(url, item_form(item, fixed_prices=fixed_prices))
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    item.refresh_from_db()
    assert item.prices == {"10.00": 1000}


def test_item_of_a_merchant_without_a_program_is_refused_without_an_error_page(admin_client):
    merchant = MerchantFactory()
    reward = RewardFactory()
    response = admin_client.post(
        reverse("admin:catalog_merchantcatalogitem_add"),
        {**item_form(MerchantCatalogItem()), "merchant": merchant.pk, "reward": reward.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert "program" in response.content.decode()
    assert not MerchantCatalogItem.objects.filter(merchant=merchant).exists()


# -- alerts --------------------------------------------------------------------------------------


def test_alerts_filter_open_and_by_kind_and_are_resolved_by_the_action(catalog_client):
    low = alert_raise(kind=AlertKind.LOW_STOCK, subject="pool:1", message="3 codes left")
    stale = alert_raise(kind=AlertKind.STALE_RATE, subject="rate:EUR", message="old rate")
    url = reverse("admin:catalog_catalogalert_changelist")
    assert b"pool:1" not in catalog_client.get(url, {"kind__exact": "stale_rate"}).content

    response = catalog_client.post(
        url, {"action": "mark_resolved", "_selected_action": [low.pk]}, follow=True
    )
    assert b"1 alert(s) resolved" in response.content
    low.refresh_from_db()
    assert low.resolved_at is not None
    assert low.resolved_by == response.wsgi_request.user
    open_page = catalog_client.get(url, {"open": "yes"}).content
    assert b"rate:EUR" in open_page
    assert b"pool:1" not in open_page
    assert b"pool:1" in catalog_client.get(url, {"open": "no"}).content
    assert CatalogAlert.objects.get(pk=stale.pk).resolved_at is None


def test_brand_with_categories_and_translations_is_saved(admin_client):
    dining = CategoryFactory(slug="dining")
    response = admin_client.post(
        reverse("admin:catalog_brand_add"),
        {
            "name": "Bistro",
            "slug": "bistro",
            "categories": [dining.pk],
            "description_en": "A bistro.",
            "description_fr": "Un bistrot.",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    brand = Brand.objects.get(slug="bistro")
    assert list(brand.categories.all()) == [dining]
    assert (brand.description_en, brand.description_fr) == ("A bistro.", "Un bistrot.")
