"""The API's input fields take the JSON type the schema states and nothing else: a wrong
type is a 400 ``invalid_input`` naming the field, and changes nothing."""

import pytest

from customercare.models import Ticket, TicketMessage
from loyalty.models import Member
from tests.conftest import assert_problem
from tests.customercare.factories import member_of, ticket_open
from tests.loyalty.apihelpers import post_json, program_for
from tests.loyalty.factories import member_make

MEMBERS = "/api/v1/members/"


@pytest.fixture
def program(tenant):
    return program_for(tenant.merchant)


@pytest.mark.parametrize("country", [{}, [], 0, False, {"code": "US"}, "us", "USA", "XX"])
def test_a_country_that_is_not_an_iso_code_is_a_400_and_the_member_keeps_theirs(tenant, country):
    member_make(tenant.merchant, "cust-1", country="PT")

    response = post_json(tenant.client, MEMBERS, {"external_id": "cust-1", "country": country})

    body = assert_problem(response, 400, "invalid_input", attr="country")
    assert Member.objects.get(external_id="cust-1").country.code == "PT"
    [error] = body["errors"]
    if isinstance(country, str):
        assert (error["code"], error["detail"]) == (
            "invalid_choice",
            f'"{country}" is not an ISO 3166-1 alpha-2 country code.',
        )
    else:
        assert (error["code"], error["detail"]) == ("invalid", "Give one of the codes as a string.")


def test_an_empty_country_still_clears_it(tenant):
    member_make(tenant.merchant, "cust-1", country="PT")

    response = post_json(tenant.client, MEMBERS, {"external_id": "cust-1", "country": ""})

    assert response.status_code == 200, response.content
    assert Member.objects.get(external_id="cust-1").country == ""


@pytest.mark.parametrize("external_id", [0, 1001, 1.5, True, None, ["cust-1"], {"id": "c"}])
def test_an_external_id_that_is_not_a_string_is_a_400_not_a_new_member(tenant, external_id):
    response = post_json(tenant.client, MEMBERS, {"external_id": external_id})

    body = assert_problem(response, 400, "invalid_input", attr="external_id")
    assert not Member.objects.exists()
    if external_id is not None:
        assert body["errors"][0]["code"] == "invalid"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", 0),
        ("email", 12),
        ("locale", False),
        ("marketing_consent", "yes"),
        ("marketing_consent", 1),
    ],
)
def test_a_profile_field_of_the_wrong_type_is_a_400_naming_it(tenant, field, value):
    response = post_json(tenant.client, MEMBERS, {"external_id": "cust-1", field: value})

    assert_problem(response, 400, "invalid_input", attr=field)
    assert not Member.objects.exists()


@pytest.mark.parametrize("message", [0, 12.5, True, ["text"], {"text": "hi"}])
def test_a_ticket_message_that_is_not_a_string_is_a_400(db, message):
    from tests.conftest import make_tenant
    from tests.customercare.factories import care_merchant

    shop = make_tenant(care_merchant())
    member = member_of(shop.merchant)
    ticket = ticket_open(member)
    before = TicketMessage.objects.count()

    response = post_json(
        shop.client, f"/api/v1/tickets/{ticket.reference}/messages/", {"message": message}
    )

    assert_problem(response, 400, "invalid_input", attr="message")
    assert TicketMessage.objects.count() == before


def test_a_ticket_message_given_as_a_number_opens_no_ticket(db):
    from tests.conftest import make_tenant
    from tests.customercare.factories import care_merchant

    shop = make_tenant(care_merchant())
    member = member_of(shop.merchant)
    body = {"member": member.external_id, "category": "other", "subject": "Hi", "message": 0}

    response = post_json(shop.client, "/api/v1/tickets/", body)

    assert_problem(response, 400, "invalid_input", attr="message")
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("points", ["5", 5.0, True])
def test_adjustment_points_must_be_a_json_integer(tenant, program, points):
    member_make(tenant.merchant, "cust-1")

    response = post_json(
        tenant.client,
        f"{MEMBERS}cust-1/adjustments/",
        {"points": points, "reason": "goodwill"},
    )

    assert_problem(response, 400, "invalid_input", attr="points")


@pytest.mark.parametrize("total", [120, 120.5, "1e2", " 120.00", "+120", "-1", "120.00001"])
def test_an_order_total_must_be_a_string_of_digits(tenant, program, total):
    body = {
        "external_id": "o-1",
        "member": "cust-1",
        "total": total,
        "currency": "USD",
        "placed_at": "2026-01-01T00:00:00Z",
    }

    response = post_json(tenant.client, "/api/v1/orders/", body)

    assert_problem(response, 400, "invalid_input", attr="total")
    assert not Member.objects.exists()


@pytest.mark.parametrize("currency", ["usd", "US", "XXXX", 840, None])
def test_an_order_currency_must_be_an_iso_4217_code(tenant, program, currency):
    body = {
        "external_id": "o-1",
        "member": "cust-1",
        "total": "10.00",
        "currency": currency,
        "placed_at": "2026-01-01T00:00:00Z",
    }

    response = post_json(tenant.client, "/api/v1/orders/", body)

    assert_problem(response, 400, "invalid_input", attr="currency")


def test_a_rating_is_taken_as_json_only(db):
    from tests.conftest import make_tenant
    from tests.customercare.factories import care_merchant

    shop = make_tenant(care_merchant())
    ticket = ticket_open(member_of(shop.merchant))

    response = shop.client.post(
        f"/api/v1/tickets/{ticket.reference}/csat/", {"score": "5"}, format="multipart"
    )

    assert_problem(response, 415, "unsupported_media_type")


def test_files_in_a_json_ticket_are_refused_not_ignored(db):
    from tests.conftest import make_tenant
    from tests.customercare.factories import care_merchant

    shop = make_tenant(care_merchant())
    ticket = ticket_open(member_of(shop.merchant))

    response = post_json(
        shop.client,
        f"/api/v1/tickets/{ticket.reference}/messages/",
        {"message": "See the file", "attachments": ["receipt.pdf"]},
    )

    assert_problem(response, 400, "invalid_input", attr="attachments")
