"""Catalog import and export through the admin: brands and rewards matched on slug, offers
on supplier + SKU + country; a dry-run preview, errors per row, nothing written when a
row is bad, and a re-import of the same file that changes nothing."""

import re
from decimal import Decimal

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import Brand, Reward, RewardStatus, SupplierOffer
from catalog.resources import BrandResource, RewardResource, SupplierOfferResource
from tests.catalog.factories import (
    BrandFactory,
    CategoryFactory,
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    merchant_with_program,
    offered,
    select,
)

pytestmark = pytest.mark.django_db

FORMATS = {"csv": ("0", "text/csv"), "xlsx": ("1", "application/vnd.ms-excel"), "json": ("2", "")}


def upload(admin_client, model: str, content: bytes | str, fmt: str = "csv"):
    """Upload a file to the model's import page; returns the preview page."""
    index, mime = FORMATS[fmt]
    data = content.encode() if isinstance(content, str) else content
    return admin_client.post(
        reverse(f"admin:catalog_{model}_import"),
        {
            "resource": "0",
            "format": index,
            "import_file": SimpleUploadedFile(f"{model}.{fmt}", data, mime),
        },
    )


def confirm(admin_client, model: str, preview):
    content = preview.content.decode()
    assert 'name="import_file_name"' in content, content[:3000]
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', content))
    return admin_client.post(
        reverse(f"admin:catalog_{model}_process_import"),
        {
            key: fields[key]
            for key in ("import_file_name", "original_file_name", "format", "resource")
        },
        follow=True,
    )


def import_file(admin_client, model: str, content: bytes | str, fmt: str = "csv"):
    return confirm(admin_client, model, upload(admin_client, model, content, fmt))


def export(admin_client, model: str, resource_class, fmt: str = "csv") -> bytes:
    response = admin_client.post(
        reverse(f"admin:catalog_{model}_export"),
        {
            "format": FORMATS[fmt][0],
            "resource": "0",
            **{
                f"{resource_class.__name__.lower()}_{name}": "on"
                for name in resource_class().get_export_order()
            },
        },
    )
    assert response.status_code == 200, response.content[:500]
    return response.content


def history_counts() -> tuple[int, int, int]:
    return (Reward.history.count(), SupplierOffer.history.count(), Reward.objects.count())


REWARDS_CSV = (
    "slug,brand,type,status,name,name_fr,countries,face_currency,denomination_kind,"
    "denominations,min_value,max_value,step,recipient_fields\n"
    'spa-fr,spa,gift_card,active,Spa day,Journée spa,"FR,DE",EUR,fixed,50|10|25,,,,email\n'
    "wine-fr,spa,experience,draft,Wine,,FR,EUR,range,,20,200,10,email|postal_address\n"
)


@pytest.fixture
def spa_brand():
    return BrandFactory(slug="spa", name="Spa")


# -- rewards ---------------------------------------------------------------------------------


def test_reward_import_previews_without_writing_then_creates_the_rewards(
    admin_client, admin_user, spa_brand
):
    preview = upload(admin_client, "reward", REWARDS_CSV)
    assert preview.status_code == 200
    assert b"spa-fr" in preview.content
    assert not Reward.objects.exists()  # the preview is a dry run

    done = confirm(admin_client, "reward", preview)
    assert done.status_code == 200
    spa = Reward.objects.get(slug="spa-fr")
    assert spa.brand == spa_brand
    assert [c.code for c in spa.countries] == ["DE", "FR"]
    assert spa.denominations == ["10.00", "25.00", "50.00"]
    assert (spa.name_en, spa.name_fr) == ("Spa day", "Journée spa")
    assert spa.status == RewardStatus.ACTIVE
    assert spa.history.get().history_user == admin_user
    wine = Reward.objects.get(slug="wine-fr")
    assert (wine.min_value, wine.max_value, wine.step) == (Decimal(20), Decimal(200), Decimal(10))
    assert wine.recipient_fields == ["email", "postal_address"]


def test_importing_the_same_reward_file_twice_changes_nothing_the_second_time(
    admin_client, spa_brand
):
    import_file(admin_client, "reward", REWARDS_CSV)
    before = history_counts()
    updated = dict(Reward.objects.values_list("slug", "updated_at"))

    import_file(admin_client, "reward", REWARDS_CSV)
    assert history_counts() == before
    assert dict(Reward.objects.values_list("slug", "updated_at")) == updated


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_exported_rewards_reimported_change_nothing(admin_client, fmt):
    brand = BrandFactory(slug="cinema")
    fixed = offered(RewardFactory(brand=brand, countries=["FR", "BE"], face_currency="EUR"))
    fixed.name_fr = "Cinéma"
    fixed.description = "Two seats."
    fixed.save()
    RewardFactory(
        brand=brand,
        denomination_kind="range",
        denominations=[],
        min_value=Decimal("5"),
        max_value=Decimal("500"),
        step=Decimal("5"),
        face_currency="JPY",
        countries=["JP"],
        recipient_fields=["phone", "email"],
        status=RewardStatus.PAUSED,
    )
    merchant, _ = merchant_with_program(country="FR", currency="EUR")
    (item,) = select(merchant, fixed)
    before = history_counts()
    updated = dict(Reward.objects.values_list("slug", "updated_at"))

    exported = export(admin_client, "reward", RewardResource, fmt)
    if fmt == "csv":
        assert b'"BE,FR"' in exported
        assert b"10.00|25.00|50.00" in exported
    preview = upload(admin_client, "reward", exported, fmt)
    assert preview.status_code == 200
    confirm(admin_client, "reward", preview)

    assert history_counts() == before
    assert dict(Reward.objects.values_list("slug", "updated_at")) == updated
    assert item.history.count() == 1


def test_bad_reward_rows_are_reported_each_and_nothing_is_written(admin_client, spa_brand):
    existing = RewardFactory(slug="kept", brand=spa_brand)
    before = history_counts()
    csv = (
        "slug,brand,type,name,countries,face_currency,denomination_kind,denominations,"
        "min_value,max_value,step,recipient_fields\n"
        "good-one,spa,gift_card,Good,FR,EUR,fixed,10|20,,,,email\n"
        "bad-values,spa,gift_card,Bad values,FR,EUR,fixed,10|abc,,,,email\n"
        "bad-brand,nobody,gift_card,Bad brand,FR,EUR,fixed,10,,,,email\n"
        "bad-range,spa,gift_card,Bad range,FR,EUR,range,,5,,,email\n"
        "no-country,spa,gift_card,No country,,EUR,fixed,10,,,,email\n"
        "bad-recipient,spa,gift_card,Bad recipient,FR,EUR,fixed,10,,,,pigeon\n"
        "bad-decimals,spa,gift_card,Bad decimals,FR,JPY,fixed,10.5,,,,email\n"
        "huge-value,spa,gift_card,Huge value,FR,EUR,fixed,1e999999|10,,,,email\n"
        "kept,spa,gift_card,Renamed,FR,EUR,fixed,10,,,,email\n"
    )
    preview = upload(admin_client, "reward", csv)
    content = preview.content.decode()
    for message in (
        "is not a positive amount",
        "No brand with slug",
        "Required for a range",
        "Name at least one country",
        "recipient_fields takes any of",
        "decimal place",
    ):
        assert message in content, message
    assert 'name="import_file_name"' not in content  # nothing to confirm
    assert history_counts() == before
    assert not Reward.objects.exclude(pk=existing.pk).exists()
    assert Reward.objects.get(pk=existing.pk).name == existing.name


def test_a_row_gone_bad_at_confirmation_rolls_back_the_whole_file(spa_brand):
    """The confirm step imports for real: one invalid row still writes nothing."""
    dataset = tablib.Dataset(
        headers=["slug", "brand", "type", "name", "countries", "face_currency", "denominations"]
    )
    dataset.append(["first", "spa", "gift_card", "First", "FR", "EUR", "10"])
    dataset.append(["second", "spa", "gift_card", "Second", "FR", "EUR", "0"])
    result = RewardResource().import_data(dataset, dry_run=False)
    assert result.has_validation_errors()
    assert not Reward.objects.exists()


def test_status_changed_by_import_goes_through_the_status_service(admin_client, admin_user):
    reward = RewardFactory(slug="spa-fr", brand=BrandFactory(slug="spa"))
    exported = export(admin_client, "reward", RewardResource).decode()
    import_file(admin_client, "reward", exported.replace(",active,", ",retired,"))
    reward.refresh_from_db()
    assert reward.status == RewardStatus.RETIRED
    latest = reward.history.latest()
    assert (latest.status, latest.history_user) == ("retired", admin_user)
    assert reward.history.count() == 2


def test_face_values_changed_by_import_reprice_the_merchants_items(admin_client):
    reward = offered(RewardFactory(slug="card", denominations=["10"]))
    merchant, _ = merchant_with_program()
    (item,) = select(merchant, reward)
    exported = export(admin_client, "reward", RewardResource).decode()
    import_file(admin_client, "reward", exported.replace(",10.00,", ",10.00|20.00,"))
    item.refresh_from_db()
    assert item.prices == {"10.00": 1000, "20.00": 2000}


# -- brands ----------------------------------------------------------------------------------


def test_brands_import_by_slug_with_categories_and_translations_idempotently(admin_client):
    CategoryFactory(slug="dining")
    CategoryFactory(slug="travel")
    existing = BrandFactory(slug="bistro", name="Old name")
    csv = (
        "slug,name,description,description_fr,categories\n"
        "bistro,Bistro,A bistro.,Un bistrot.,dining|travel\n"
        "hotel,Hotel,A hotel.,,travel\n"
    )
    import_file(admin_client, "brand", csv)
    bistro = Brand.objects.get(slug="bistro")
    assert bistro.pk == existing.pk
    assert (bistro.name, bistro.description_fr) == ("Bistro", "Un bistrot.")
    assert sorted(bistro.categories.values_list("slug", flat=True)) == ["dining", "travel"]
    updated = dict(Brand.objects.values_list("slug", "updated_at"))

    import_file(admin_client, "brand", csv)
    assert dict(Brand.objects.values_list("slug", "updated_at")) == updated
    exported = export(admin_client, "brand", BrandResource).decode()
    assert "dining|travel" in exported


def test_brand_with_an_unknown_category_is_reported_and_nothing_is_written(admin_client):
    CategoryFactory(slug="dining")
    csv = "slug,name,categories\nfine,Fine,dining\nbistro,Bistro,dining|nowhere\n"
    content = upload(admin_client, "brand", csv).content.decode()
    assert "nowhere" in content
    assert 'name="import_file_name"' not in content
    assert not Brand.objects.exists()


# -- supplier offers -------------------------------------------------------------------------


def test_offers_import_matches_supplier_sku_and_country(admin_client):
    supplier = SupplierFactory(slug="giftco")
    reward = RewardFactory(slug="spa-fr", countries=["FR", "DE"])
    existing = OfferFactory(
        reward=reward, supplier=supplier, supplier_sku="SPA-1", country="FR", cost_currency="EUR"
    )
    csv = (
        "supplier,supplier_sku,country,reward,cost_currency,discount_percent,fee,preference\n"
        "giftco,SPA-1,fr,spa-fr,EUR,7.5,0.50,10\n"
        "giftco,SPA-1,DE,spa-fr,EUR,6,0,20\n"
    )
    import_file(admin_client, "supplieroffer", csv)
    existing.refresh_from_db()
    assert (existing.discount_percent, existing.fee, existing.preference) == (
        Decimal("7.5"),
        Decimal("0.5"),
        10,
    )
    assert SupplierOffer.objects.get(supplier_sku="SPA-1", country="DE").preference == 20
    assert SupplierOffer.objects.count() == 2
    before = history_counts()

    import_file(admin_client, "supplieroffer", csv)
    exported = export(admin_client, "supplieroffer", SupplierOfferResource)
    import_file(admin_client, "supplieroffer", exported)
    assert history_counts() == before
    assert SupplierOffer.objects.count() == 2


def test_bad_offer_rows_are_reported_and_nothing_is_written(admin_client):
    SupplierFactory(slug="giftco")
    RewardFactory(slug="spa-fr")
    csv = (
        "supplier,supplier_sku,country,reward,cost_currency,discount_percent\n"
        "giftco,OK-1,FR,spa-fr,EUR,5\n"
        "nobody,X-1,FR,spa-fr,EUR,5\n"
        "giftco,X-2,FR,no-such-reward,EUR,5\n"
        "giftco,X-3,FR,spa-fr,EUR,150\n"
        "giftco,X-4,ZZ,spa-fr,EUR,5\n"
    )
    content = upload(admin_client, "supplieroffer", csv).content.decode()
    assert "No supplier with slug" in content
    assert "No reward with slug" in content
    assert "offer_discount_range" in content or "Constraint" in content
    assert "ZZ" in content
    assert 'name="import_file_name"' not in content
    assert not SupplierOffer.objects.exists()
