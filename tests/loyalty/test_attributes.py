"""CRM attributes: each merchant's schema, checked wherever a member's attributes are
written (the store API, the member import), refused by name when they do not fit, and
erased only where they are personal data."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loyalty.attributes import (
    AttributeSpec,
    InvalidAttribute,
    attributes_clean,
    attributes_kept_on_erasure,
)
from loyalty.models import Member, MemberAttribute
from loyalty.services import members
from tests.conftest import assert_problem
from tests.loyalty.apihelpers import db_state, post_json, program_for
from tests.loyalty.factories import member_make

MEMBERS = "/api/v1/members/"

SCHEMA = {
    "store": AttributeSpec("store", "Favourite store", "text"),
    "shoe_size": AttributeSpec("shoe_size", "Shoe size", "number"),
    "anniversary": AttributeSpec("anniversary", "Anniversary", "date", is_personal=True),
    "newsletter": AttributeSpec("newsletter", "Newsletter", "boolean"),
    "style": AttributeSpec("style", "Style", "choice", choices=("outdoor", "city")),
}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("store", "Lisbon"),
        ("shoe_size", 42),
        ("shoe_size", 42.5),
        ("anniversary", "2020-02-29"),
        ("newsletter", False),
        ("style", "city"),
    ],
)
def test_a_value_of_the_attributes_type_is_kept(name, value):
    assert attributes_clean(SCHEMA, {name: value}) == {name: value}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("store", 7),
        ("store", "x" * 501),
        ("shoe_size", "42"),
        ("shoe_size", True),
        ("shoe_size", float("nan")),
        ("anniversary", "2021-02-29"),
        ("anniversary", "29/02/2020"),
        ("newsletter", "yes"),
        ("style", "beach"),
        ("style", ["city"]),
        ("loyalty_tier", "gold"),  # not in the schema
    ],
)
def test_a_value_that_does_not_fit_is_refused_naming_the_attribute(name, value):
    with pytest.raises(InvalidAttribute) as refused:
        attributes_clean(SCHEMA, {name: value})
    assert refused.value.field == f"attributes.{name}"
    assert name in refused.value.detail


def test_null_removes_an_attribute_and_no_schema_keeps_free_form_values():
    assert attributes_clean(SCHEMA, {"store": None, "newsletter": True}) == {"newsletter": True}
    assert attributes_clean({}, {"anything": [1, 2]}) == {"anything": [1, 2]}


def test_erasure_keeps_only_what_the_schema_says_is_not_personal():
    values = {"store": "Porto", "anniversary": "2020-01-01", "unknown": "x"}
    assert attributes_kept_on_erasure(SCHEMA, values) == {"store": "Porto"}


# -- the schema's rows -----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "choices"),
    [("choice", []), ("choice", ["a", "a"]), ("choice", ["a", ""]), ("text", ["a"])],
)
def test_a_schema_row_with_choices_that_do_not_fit_its_type_is_refused(tenant, kind, choices):
    row = MemberAttribute(
        merchant=tenant.merchant, name="style", label="Style", type=kind, choices=choices
    )
    with pytest.raises(ValidationError):
        row.full_clean()


@pytest.mark.django_db
def test_a_schema_name_is_a_lowercase_key(tenant):
    row = MemberAttribute(merchant=tenant.merchant, name="Shoe Size", label="x", type="text")
    with pytest.raises(ValidationError):
        row.full_clean()


# -- the store API ---------------------------------------------------------------------------


def schema_for(merchant) -> None:
    for spec in SCHEMA.values():
        MemberAttribute.objects.create(
            merchant=merchant,
            name=spec.name,
            label=spec.label,
            type=spec.type,
            choices=list(spec.choices),
            is_personal=spec.is_personal,
        )


@pytest.mark.django_db
def test_the_api_stores_attributes_that_fit_the_schema(tenant, program):
    schema_for(tenant.merchant)
    response = post_json(
        tenant.client,
        MEMBERS,
        {"external_id": "c-1", "attributes": {"style": "outdoor", "shoe_size": 44}},
    )
    assert response.status_code == 201, response.content
    assert response.json()["attributes"] == {"style": "outdoor", "shoe_size": 44}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("attributes", "attr"),
    [
        ({"style": "beach"}, "attributes.style"),
        ({"favourite_colour": "red"}, "attributes.favourite_colour"),
        ({"anniversary": "tomorrow"}, "attributes.anniversary"),
    ],
)
def test_the_api_refuses_an_attribute_that_does_not_fit_and_changes_nothing(
    tenant, program, attributes, attr
):
    schema_for(tenant.merchant)
    member_make(tenant.merchant, "c-2")
    before = db_state()

    response = post_json(tenant.client, MEMBERS, {"external_id": "c-2", "attributes": attributes})

    body = assert_problem(response, 400, "invalid_attribute", attr=attr)
    assert attr.split(".")[1] in body["errors"][0]["detail"]
    assert db_state() == before


@pytest.mark.django_db
def test_one_merchants_schema_never_applies_to_another(tenant_pair):
    schema_for(tenant_pair.a.merchant)
    for side in (tenant_pair.a, tenant_pair.b):
        program_for(side.merchant)
    free_form = {"external_id": "c-3", "attributes": {"favourite_colour": "red"}}

    assert post_json(tenant_pair.b.client, MEMBERS, free_form).status_code == 201
    assert post_json(tenant_pair.a.client, MEMBERS, free_form).status_code == 400


# -- erasure and import ----------------------------------------------------------------------


@pytest.mark.django_db
def test_erasing_a_member_clears_the_personal_attributes_only(tenant, program):
    schema_for(tenant.merchant)
    member = member_make(tenant.merchant, "c-4")
    member.attributes = {"store": "Braga", "anniversary": "2019-06-01", "newsletter": True}
    member.save(update_fields=["attributes"])

    members.member_anonymise(merchant=tenant.merchant, member=member)

    member.refresh_from_db()
    assert member.attributes == {"store": "Braga", "newsletter": True}


@pytest.mark.django_db
def test_the_member_import_checks_attributes_row_by_row(admin_client, tenant, program):
    tenant.merchant.slug = "acme-attrs"
    tenant.merchant.save(update_fields=["slug"])
    schema_for(tenant.merchant)
    csv = (
        "merchant,external_id,attributes\n"
        'acme-attrs,i-1,"{""style"": ""city""}"\n'
        'acme-attrs,i-2,"{""style"": ""beach""}"\n'
    )
    preview = admin_client.post(
        reverse("admin:loyalty_member_import"),
        {
            "resource": "0",
            "format": "0",
            "import_file": SimpleUploadedFile("members.csv", csv.encode(), "text/csv"),
        },
    )
    content = preview.content.decode()

    assert "style: give one of outdoor, city." in content
    assert 'name="import_file_name"' not in content  # nothing to confirm
    assert not Member.objects.filter(external_id__in=["i-1", "i-2"]).exists()
