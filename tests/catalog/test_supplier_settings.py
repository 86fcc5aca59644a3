"""Supplier adapter settings: each adapter's schema, checked when staff save settings and
when an adapter is built; secrets write-only (masked, a blank keeps the stored one);
changing a secret, the adapter or where secrets are sent needs the credentials
permission."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from catalog import services
from catalog.exceptions import InvalidSupplierSettings, SupplierCredentialsLocked
from catalog.models import Supplier
from catalog.supplier_settings import (
    SettingKind,
    adapter_schemas,
    mask,
    schema_for,
    stored_settings,
)
from core.actors import SYSTEM, Actor
from fulfillment.adapters import AdapterConfigError, adapter_for
from tests.catalog.factories import SupplierFactory
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db

KEY = "agg-live-key-0123456789abcd"
URL = "https://api.giftagg.example/v1"


def staff(*, credentials: bool):
    user = StaffFactory()
    perms = ["change_supplier", "view_supplier"]
    if credentials:
        perms.append("change_supplier_credentials")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="catalog", codename__in=perms)
    )
    return type(user).objects.get(pk=user.pk)  # a fresh permission cache


def http_supplier(**settings) -> Supplier:
    supplier = Supplier(
        name="GiftAgg", slug="giftagg", kind="aggregator", adapter="http_json",
        invoice_currency="USD",
    )  # fmt: skip
    return services.supplier_save(
        supplier=supplier,
        settings={"base_url": URL, "api_key": KEY, "timeout_s": 10, **settings},
        actor=SYSTEM,
    )


def stored(supplier: Supplier) -> dict:
    return stored_settings(Supplier.objects.get(pk=supplier.pk).adapter_config)


# -- the schemas ---------------------------------------------------------------------------


def test_every_adapter_declares_its_settings_and_which_are_secret():
    schemas = adapter_schemas()

    assert set(schemas) == {"manual", "code_pool", "sandbox", "http_json"}
    assert schemas["manual"].names == schemas["code_pool"].names == []
    http = schemas["http_json"]
    assert http.names == ["base_url", "api_key", "timeout_s"]
    assert [s.name for s in http.secrets] == ["api_key"]
    assert http.get("base_url").routes_secrets
    assert http.get("base_url").required
    assert http.get("base_url").protected
    assert http.get("api_key").protected
    assert not http.get("timeout_s").protected
    assert http.get("timeout_s").kind == SettingKind.NUMBER
    assert schemas["sandbox"].get("latency_ms").kind == SettingKind.INTEGER
    assert all(s.help_text for schema in schemas.values() for s in schema.settings)


@pytest.mark.parametrize(
    ("settings", "field", "says"),
    [
        ({}, "base_url", "required"),
        ({"base_url": "http://api.giftagg.example"}, "base_url", "https://"),
        ({"base_url": "ftp://api.giftagg.example"}, "base_url", "https://"),
        ({"base_url": "https://user:pw@api.giftagg.example"}, "base_url", "no user or password"),
        ({"base_url": "https://api.giftagg.example/?key=abc"}, "base_url", "no query"),
        ({"base_url": "https://"}, "base_url", "https://"),
        ({"base_url": URL, "timeout_s": 0}, "timeout_s", "at least 0.1"),
        ({"base_url": URL, "timeout_s": 600}, "timeout_s", "at most 60"),
        ({"base_url": URL, "timeout_s": "soon"}, "timeout_s", "a number"),
        ({"base_url": URL, "timeout_s": True}, "timeout_s", "a number"),
        ({"base_url": URL, "api_key": 123}, "api_key", "a text"),
        ({"base_url": URL, "password": "x"}, "password", "unknown setting"),
    ],
)
def test_http_json_settings_are_checked_naming_the_setting(settings, field, says):
    with pytest.raises(InvalidSupplierSettings) as refused:
        schema_for("http_json").clean(settings)

    assert refused.value.field == field
    assert says in refused.value.extra["field_errors"][field]


def test_http_is_only_allowed_to_this_machines_own_address():
    schema = schema_for("http_json")
    for url in ("http://127.0.0.1:8080/v1", "http://localhost:9000", "http://[::1]/api"):
        assert schema.clean({"base_url": url})["base_url"] == url


def test_sandbox_rates_are_numbers_from_0_to_1_and_outcomes_fit_in_1():
    schema = schema_for("sandbox")
    assert schema.clean({"failure_rate": "0.25", "latency_ms": "20", "seed": 7}) == {
        "failure_rate": 0.25,
        "latency_ms": 20,
        "seed": 7,
    }
    for bad in ({"failure_rate": 1.5}, {"failure_rate": 0.6, "unknown_rate": 0.6}):
        with pytest.raises(InvalidSupplierSettings):
            schema.clean(bad)
    with pytest.raises(InvalidSupplierSettings) as refused:
        schema.clean({"latency_ms": 2.5})
    assert refused.value.extra["field_errors"] == {"latency_ms": "a whole number"}


def test_a_refusal_never_repeats_the_value():
    with pytest.raises(InvalidSupplierSettings) as refused:
        schema_for("http_json").clean({"base_url": f"https://x:{KEY}@a.example", "api_key": 5})
    assert KEY not in str(refused.value.extra)
    assert KEY not in refused.value.detail
    with pytest.raises(AdapterConfigError) as config_error:
        adapter_for("http_json", {"base_url": f"http://{KEY}.example"})
    assert KEY not in str(config_error.value)


def test_a_secret_is_masked_to_its_last_four_characters_only_when_long_enough():
    assert mask(KEY) == "••••abcd"
    assert mask("short-key") == "••••"
    assert schema_for("http_json").shown({"base_url": URL, "api_key": KEY}) == {
        "base_url": URL,
        "api_key": "••••abcd",
    }


# -- saving --------------------------------------------------------------------------------


def test_settings_are_stored_encrypted_and_checked():
    supplier = http_supplier()

    assert stored(supplier) == {"base_url": URL, "api_key": KEY, "timeout_s": 10}
    with connection.cursor() as cursor:
        cursor.execute("SELECT adapter_config FROM catalog_supplier WHERE id = %s", [supplier.pk])
        (raw,) = cursor.fetchone()
    assert KEY not in raw
    assert "giftagg" not in raw


def test_a_blank_secret_keeps_the_stored_one_and_a_typed_one_replaces_it():
    supplier = http_supplier()
    operator = staff(credentials=True)

    services.supplier_save(
        supplier=supplier, settings={"base_url": URL, "timeout_s": 5}, actor=Actor.staff(operator)
    )
    assert stored(supplier) == {"base_url": URL, "api_key": KEY, "timeout_s": 5}

    services.supplier_save(
        supplier=supplier,
        settings={"base_url": URL, "api_key": "new-key-9999"},
        actor=Actor.staff(operator),
    )
    assert stored(supplier)["api_key"] == "new-key-9999"


def test_switching_the_adapter_checks_the_new_schema_and_drops_the_old_settings():
    supplier = http_supplier()
    supplier.adapter = "sandbox"

    with pytest.raises(InvalidSupplierSettings):
        services.supplier_save(supplier=supplier, settings={"base_url": URL}, actor=SYSTEM)
    services.supplier_save(supplier=supplier, settings={"seed": 3}, actor=SYSTEM)

    assert stored(supplier) == {"seed": 3}
    supplier.adapter = "http_json"
    # The old key is not carried back: a secret belongs to the settings it was typed in.
    services.supplier_save(supplier=supplier, settings={"base_url": URL}, actor=SYSTEM)
    assert stored(supplier) == {"base_url": URL}


@pytest.mark.parametrize(
    ("change", "locked"),
    [
        ({"settings": {"base_url": "https://collector.example/v1"}}, "base_url"),
        ({"settings": {"base_url": URL, "api_key": "stolen-and-replaced"}}, "api_key"),
        ({"adapter": "sandbox", "settings": {}}, "adapter"),
    ],
)
def test_without_the_credentials_permission_secrets_and_where_they_go_are_locked(change, locked):
    supplier = http_supplier()
    clerk = staff(credentials=False)
    supplier.adapter = change.get("adapter", supplier.adapter)
    settings = change["settings"]

    with pytest.raises(SupplierCredentialsLocked) as refused:
        services.supplier_save(supplier=supplier, settings=settings, actor=Actor.staff(clerk))

    assert (refused.value.status, refused.value.code, refused.value.field) == (
        403,
        "supplier_credentials_locked",
        locked,
    )
    fresh = Supplier.objects.get(pk=supplier.pk)
    assert fresh.adapter == "http_json"
    assert stored(fresh) == {"base_url": URL, "api_key": KEY, "timeout_s": 10}


def test_without_the_permission_the_other_settings_can_still_be_changed():
    supplier = http_supplier()
    supplier.rate_limit_per_minute = 30

    services.supplier_save(
        supplier=supplier,
        settings={"base_url": URL, "timeout_s": 20},
        actor=Actor.staff(staff(credentials=False)),
    )

    assert stored(supplier) == {"base_url": URL, "api_key": KEY, "timeout_s": 20}
    assert Supplier.objects.get(pk=supplier.pk).rate_limit_per_minute == 30


def test_creating_a_supplier_with_credentials_needs_the_permission():
    supplier = Supplier(
        name="New", slug="new", kind="aggregator", adapter="http_json", invoice_currency="USD"
    )
    with pytest.raises(SupplierCredentialsLocked):
        services.supplier_save(
            supplier=supplier,
            settings={"base_url": URL},
            actor=Actor.staff(staff(credentials=False)),
        )
    assert not Supplier.objects.filter(slug="new").exists()

    sandbox = Supplier(
        name="Sbx", slug="sbx", kind="aggregator", adapter="sandbox", invoice_currency="USD"
    )
    services.supplier_save(
        supplier=sandbox, settings={"seed": 1}, actor=Actor.staff(staff(credentials=False))
    )
    assert stored(sandbox) == {"seed": 1}


def test_only_active_holders_of_the_permission_and_the_system_may_change_credentials():
    holder = staff(credentials=True)
    assert services.supplier_may_change_credentials(actor=Actor.staff(holder))
    assert services.supplier_may_change_credentials(actor=Actor.system("refresh_suppliers"))
    assert not services.supplier_may_change_credentials(actor=Actor.staff(staff(credentials=False)))
    holder.is_active = False
    assert not services.supplier_may_change_credentials(actor=Actor.staff(holder))


def test_the_operations_group_holds_the_credentials_permission_and_no_other_group_does():
    from core.staff_groups import declared_group_permissions

    holders = {
        group
        for group, perms in declared_group_permissions().items()
        if "catalog.change_supplier_credentials" in perms
    }
    assert holders == {"Operations"}


def test_dispatch_builds_the_adapter_from_the_stored_settings():
    from fulfillment.services.dispatch import supplier_adapter

    adapter = supplier_adapter(http_supplier(timeout_s=2.5))

    assert (adapter.base_url, adapter.timeout_s) == (URL, 2.5)
    broken = SupplierFactory(adapter="http_json", adapter_config=json.dumps({"base_url": "x"}))
    with pytest.raises(AdapterConfigError):
        supplier_adapter(broken)
