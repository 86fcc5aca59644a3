"""The supplier page in the admin, for each staff group: who sees it, who may change the
adapter's secret and where it is sent. A secret is never rendered back (change page,
list, history, the view-only page), only masked; the settings are one form field each,
checked against the adapter's schema."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.urls import NoReverseMatch, reverse

from catalog import services
from catalog.models import Supplier
from catalog.supplier_settings import stored_settings
from core.actors import SYSTEM
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db

KEY = "agg-live-key-0123456789abcd"
URL = "https://api.giftagg.example/v1"
EVIL = "https://collector.evil.example/v1"
LIST = reverse("admin:catalog_supplier_changelist")
ADD = reverse("admin:catalog_supplier_add")


@pytest.fixture
def supplier() -> Supplier:
    return services.supplier_save(
        supplier=Supplier(
            name="GiftAgg",
            slug="giftagg",
            kind="aggregator",
            adapter="http_json",
            invoice_currency="USD",
        ),
        settings={"base_url": URL, "api_key": KEY, "timeout_s": 10},
        actor=SYSTEM,
    )


def login(client, group: str | None):
    user = StaffFactory(is_superuser=group is None)
    if group:
        user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return client


def change_url(supplier: Supplier) -> str:
    return reverse("admin:catalog_supplier_change", args=[supplier.pk])


def form_data(supplier: Supplier, **changes) -> dict:
    data = {
        "name": supplier.name,
        "slug": supplier.slug,
        "kind": supplier.kind,
        "adapter": supplier.adapter,
        "invoice_currency": supplier.invoice_currency,
        "rate_limit_per_minute": supplier.rate_limit_per_minute,
        "is_active": "on",
        "setting_base_url": URL,
        "setting_api_key": "",
        "setting_timeout_s": "10",
        "_save": "Save",
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def settings_of(supplier: Supplier) -> dict:
    fresh = Supplier.objects.get(pk=supplier.pk)
    return {"adapter": fresh.adapter, **stored_settings(fresh.adapter_config)}


UNCHANGED = {"adapter": "http_json", "base_url": URL, "api_key": KEY, "timeout_s": 10}


# -- who sees what, who changes what ------------------------------------------------------

# group: (sees the page, may change the supplier, may change its secret and base_url)
RIGHTS = {
    None: (True, True, True),  # a superuser
    "Operations": (True, True, True),
    "Catalog": (True, True, False),
    "Fulfillment": (True, False, False),  # takes a paused supplier back; edits nothing
    "Finance": (True, False, False),
    "Customer care": (False, False, False),
}


@pytest.mark.parametrize("group", list(RIGHTS))
def test_each_group_sees_the_page_with_the_secret_masked_or_not_at_all(client, supplier, group):
    sees, _, _ = RIGHTS[group]
    login(client, group)

    page = client.get(change_url(supplier))

    assert page.status_code == (200 if sees else 403)
    if sees:
        content = page.content.decode()
        assert KEY not in content
        assert "••••abcd" in content
        assert URL in content
        listing = client.get(LIST).content.decode()
        assert "GiftAgg" in listing
        assert KEY not in listing


@pytest.mark.parametrize("group", list(RIGHTS))
def test_each_group_may_change_the_base_url_and_the_secret_only_with_the_permission(
    client, supplier, group
):
    _, changes, credentials = RIGHTS[group]
    login(client, group)

    moved = client.post(change_url(supplier), form_data(supplier, setting_base_url=EVIL))
    after_move = settings_of(supplier)
    rekeyed = client.post(change_url(supplier), form_data(supplier, setting_api_key="new-key-1"))
    after_rekey = settings_of(supplier)

    if credentials:
        assert moved.status_code == rekeyed.status_code == 302
        assert after_move["base_url"] == EVIL
        assert after_rekey["api_key"] == "new-key-1"
    else:
        assert moved.status_code == rekeyed.status_code == (200 if changes else 403)
        assert after_move == after_rekey == UNCHANGED
        if changes:
            assert "needs the permission to change supplier credentials" in moved.content.decode()
            assert "needs the permission to change supplier credentials" in (
                rekeyed.content.decode()
            )


def test_without_the_permission_the_secret_fields_are_disabled_and_the_rest_can_change(
    client, supplier
):
    login(client, "Catalog")
    content = client.get(change_url(supplier)).content.decode()
    for name in ("adapter", "setting_base_url", "setting_api_key"):
        tag = re.search(rf'<(?:input|select)[^>]*name="{name}"[^>]*>', content).group(0)
        assert "disabled" in tag, tag
    assert "disabled" not in re.search(r'<input[^>]*name="setting_timeout_s"[^>]*>', content)[0]

    # What a browser sends: no disabled field.
    data = form_data(supplier, setting_timeout_s="20", rate_limit_per_minute="30")
    for name in ("adapter", "setting_base_url", "setting_api_key"):
        del data[name]
    response = client.post(change_url(supplier), data)

    assert response.status_code == 302, response.content
    assert settings_of(supplier) == {**UNCHANGED, "timeout_s": 20}
    assert Supplier.objects.get(pk=supplier.pk).rate_limit_per_minute == 30


def test_a_forged_change_of_the_adapter_is_refused(client, supplier):
    login(client, "Catalog")

    response = client.post(
        change_url(supplier), form_data(supplier, adapter="sandbox", setting_base_url=None)
    )

    assert response.status_code == 200
    assert (
        "Not saved: changing Adapter needs the permission to change supplier credentials"
        in response.content.decode()
    )
    assert settings_of(supplier) == UNCHANGED


# -- the form -------------------------------------------------------------------------------


def test_each_setting_is_its_own_field_and_the_secret_input_renders_empty(client, supplier):
    login(client, "Operations")

    content = client.get(change_url(supplier)).content.decode()

    assert "adapter_config" not in content
    assert "<textarea" not in content
    url = re.search(r'<input[^>]*name="setting_base_url"[^>]*>', content)[0]
    assert 'type="url"' in url
    assert f'value="{URL}"' in url
    secret = re.search(r'<input[^>]*name="setting_api_key"[^>]*>', content)[0]
    assert 'type="password"' in secret
    assert "value=" not in secret
    assert "Currently set, ends in ••••abcd" in content
    timeout = re.search(r'<input[^>]*name="setting_timeout_s"[^>]*>', content)[0]
    assert 'type="number"' in timeout
    assert 'value="10"' in timeout


def test_leaving_the_secret_empty_keeps_it_and_typing_one_replaces_it(client, supplier):
    login(client, "Operations")

    kept = client.post(change_url(supplier), form_data(supplier, setting_timeout_s="15"))
    assert kept.status_code == 302
    assert settings_of(supplier) == {**UNCHANGED, "timeout_s": 15}

    replaced = client.post(change_url(supplier), form_data(supplier, setting_api_key="k-2"))
    assert replaced.status_code == 302
    assert settings_of(supplier)["api_key"] == "k-2"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"setting_base_url": "http://api.giftagg.example"}, "setting_base_url"),
        ({"setting_base_url": "https://u:p@api.giftagg.example"}, "setting_base_url"),
        ({"setting_base_url": ""}, "setting_base_url"),
        ({"setting_timeout_s": "600"}, "setting_timeout_s"),
        ({"setting_timeout_s": "soon"}, "setting_timeout_s"),
    ],
)
def test_bad_settings_are_form_errors_and_change_nothing(client, supplier, changes, field):
    login(client, "Operations")

    response = client.post(change_url(supplier), form_data(supplier, **changes))

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert settings_of(supplier) == UNCHANGED


def test_switching_the_adapter_asks_for_the_new_adapters_settings(client):
    sandbox = services.supplier_save(
        supplier=Supplier(
            name="Sbx", slug="sbx", kind="aggregator", adapter="sandbox", invoice_currency="USD"
        ),
        settings={"seed": 3},
        actor=SYSTEM,
    )
    login(client, "Operations")
    data = {
        "name": "Sbx",
        "slug": "sbx",
        "kind": "aggregator",
        "adapter": "http_json",
        "invoice_currency": "USD",
        "rate_limit_per_minute": "60",
        "is_active": "on",
        "setting_seed": "3",
        "_save": "Save",
    }

    asked = client.post(change_url(sandbox), data)

    assert asked.status_code == 200
    assert "setting_base_url" in asked.context["adminform"].form.errors
    assert 'name="setting_seed"' not in asked.content.decode()
    assert settings_of(sandbox) == {"adapter": "sandbox", "seed": 3}

    data.pop("setting_seed")
    saved = client.post(change_url(sandbox), {**data, "setting_base_url": URL})
    assert saved.status_code == 302
    assert settings_of(sandbox) == {"adapter": "http_json", "base_url": URL}


def test_a_link_shows_another_adapters_settings_to_those_who_may_switch(client, supplier):
    login(client, "Operations")
    content = client.get(change_url(supplier) + "?adapter=sandbox").content.decode()
    assert 'name="setting_failure_rate"' in content
    assert 'name="setting_base_url"' not in content
    assert re.search(r'<option value="sandbox" selected>', content)

    login(client, "Catalog")
    content = client.get(change_url(supplier) + "?adapter=sandbox").content.decode()
    assert 'name="setting_failure_rate"' not in content
    assert 'href="?adapter=sandbox"' not in content


def test_adding_a_supplier_with_credentials_needs_the_permission(client):
    login(client, "Catalog")
    data = {
        "name": "New agg",
        "slug": "new-agg",
        "kind": "aggregator",
        "adapter": "http_json",
        "invoice_currency": "USD",
        "rate_limit_per_minute": "60",
        "is_active": "on",
        "setting_base_url": URL,
        "setting_api_key": KEY,
        "_save": "Save",
    }

    refused = client.post(ADD, data)
    plain = {k: v for k, v in data.items() if not k.startswith("setting_")}
    created = client.post(ADD, {**plain, "slug": "sbx", "adapter": "sandbox", "setting_seed": "1"})

    assert refused.status_code == 200
    assert "needs the permission to change supplier credentials" in refused.content.decode()
    assert not Supplier.objects.filter(slug="new-agg").exists()
    assert created.status_code == 302
    assert settings_of(Supplier.objects.get(slug="sbx")) == {"adapter": "sandbox", "seed": 1}

    login(client, "Operations")
    assert client.post(ADD, data).status_code == 302
    assert settings_of(Supplier.objects.get(slug="new-agg"))["api_key"] == KEY


# -- nowhere in clear -----------------------------------------------------------------------


def test_the_history_records_which_settings_changed_never_their_values(client, supplier):
    login(client, "Operations")
    client.post(change_url(supplier), form_data(supplier, setting_api_key="next-key-5678"))

    history = client.get(reverse("admin:catalog_supplier_history", args=[supplier.pk]))

    content = history.content.decode()
    assert history.status_code == 200
    assert "API key" in content
    assert "next-key-5678" not in content
    assert KEY not in content
    assert not any("next-key" in entry.change_message for entry in LogEntry.objects.all())


def test_the_view_only_page_shows_the_settings_masked(client, supplier):
    login(client, "Finance")

    content = client.get(change_url(supplier)).content.decode()

    assert f"Base URL: {URL}" in content
    assert "API key: ••••abcd" in content
    assert KEY not in content
    assert 'name="setting_' not in content
    assert client.post(change_url(supplier), form_data(supplier)).status_code == 403


def test_exporting_the_suppliers_offers_names_the_supplier_only(client, supplier):
    from catalog.resources import SupplierOfferResource
    from tests.catalog.factories import OfferFactory
    from tests.catalog.test_import_export import export

    OfferFactory(supplier=supplier)
    login(client, None)

    exported = export(client, "supplieroffer", SupplierOfferResource).decode()

    assert "giftagg" in exported
    assert KEY not in exported
    assert "api.giftagg.example" not in exported
    with pytest.raises(NoReverseMatch):  # suppliers themselves are never exported
        reverse("admin:catalog_supplier_export")
