"""Referrals through the store API: ``referral_code`` (and what the store saw) on
``POST /api/v1/members/``, ``POST /api/v1/orders/`` and the bulk members call; ``phone``
on the member; ``GET /api/v1/members/{external_id}/referrals/`` without the friends'
personal data; and the ``/r/<code>`` link."""

from decimal import Decimal

import pytest
from django.utils import timezone

from core.actors import SYSTEM
from loyalty.models import Member, Order, Referral, ReferralStatus, ReferralTerms
from loyalty.referrals import services
from merchants.models import MerchantBrand
from merchants.services.stores import store_create
from tests.conftest import assert_not_found, assert_problem
from tests.loyalty.apihelpers import db_state, post_json, program_for
from tests.loyalty.factories import member_make, order_post

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/members/"
ORDERS = "/api/v1/orders/"


def terms_on(merchant, **fields) -> ReferralTerms:
    program = program_for(merchant)
    values = {
        "advocate_points": 500,
        "friend_points": 250,
        "min_order_total": Decimal("50"),
        "pending_days": 30,
        **fields,
    }
    return ReferralTerms.objects.create(program=program, **values)


@pytest.fixture
def shop(tenant):
    terms_on(tenant.merchant)
    return tenant


def code_of(member) -> str:
    return services.referral_code_get_or_create(member=member).code


def referrals_url(external_id: str) -> str:
    return f"{MEMBERS}{external_id}/referrals/"


# -- POST /members/ -----------------------------------------------------------------------------


def test_a_new_member_with_a_code_is_referred_and_keeps_their_phone(shop):
    advocate = member_make(shop.merchant)

    response = post_json(
        shop.client,
        MEMBERS,
        {
            "external_id": "friend-1",
            "email": "li@example.com",
            "phone": "+1 415 555 0100",
            "referral_code": code_of(advocate).lower(),
            "referral": {
                "client_ip": "198.51.100.7",
                "device_id": "fp-1",
                "address": {"lines": ["1 Main St"], "postal_code": "94105", "country": "US"},
            },
        },
    )

    assert response.status_code == 201, response.content
    assert response.json()["phone"] == "+1 415 555 0100"
    referral = Referral.objects.get(friend__external_id="friend-1")
    assert (referral.advocate_id, referral.status) == (advocate.pk, ReferralStatus.PENDING)
    assert (referral.client_ip, referral.device_id) == ("198.51.100.7", "fp-1")


def test_posting_the_member_again_with_the_code_changes_nothing(shop):
    body = {"external_id": "friend-2", "referral_code": code_of(member_make(shop.merchant))}
    assert post_json(shop.client, MEMBERS, body).status_code == 201

    again = post_json(shop.client, MEMBERS, body)

    assert again.status_code == 200
    assert Referral.objects.filter(friend__external_id="friend-2").count() == 1


def test_an_unknown_code_is_a_400_on_referral_code_and_creates_no_member(shop):
    before = db_state()

    response = post_json(
        shop.client, MEMBERS, {"external_id": "nobody", "referral_code": "ZZZZ9999"}
    )

    assert_problem(response, 400, "referral_code_unknown", attr="referral_code")
    assert db_state() == before


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"referral_code": "no spaces!"}, "referral_code"),
        ({"referral_code": 12345678}, "referral_code"),
        ({"phone": "call me"}, "phone"),
        ({"referral": {"client_ip": "999.1.1.1"}}, "referral.client_ip"),
        ({"referral": {"address": {"lines": []}}}, "referral.address.lines"),
        ({"referral": {"address": {"lines": ["x"], "country": "USA"}}}, "referral.address.country"),
    ],
)
def test_bad_referral_input_is_a_400_that_names_the_field(shop, body, attr):
    before = db_state()

    response = post_json(shop.client, MEMBERS, {"external_id": "x-1", **body})

    assert_problem(response, 400, "invalid_input", attr=attr)
    assert db_state() == before


def test_a_members_own_code_is_refused(shop):
    member = member_make(shop.merchant)

    response = post_json(
        shop.client, MEMBERS, {"external_id": member.external_id, "referral_code": code_of(member)}
    )

    assert_problem(response, 422, "referral_refused", attr="referral_code")


def test_the_bulk_members_call_attaches_each_referral(shop):
    code = code_of(member_make(shop.merchant))

    response = post_json(
        shop.client,
        f"{MEMBERS}bulk/",
        {
            "members": [
                {"external_id": "b-1", "referral_code": code},
                {"external_id": "b-2", "referral_code": "NOPE1234"},
            ]
        },
    )

    results = response.json()["results"]
    assert [item["status"] for item in results] == ["created", "error"]
    assert results[1]["problem"]["code"] == "referral_code_unknown"
    assert Referral.objects.filter(friend__external_id="b-1").exists()
    assert not Member.objects.filter(external_id="b-2").exists()


# -- POST /orders/ ------------------------------------------------------------------------------


def order_body(**extra) -> dict:
    return {
        "external_id": f"o-{timezone.now().timestamp()}",
        "member": {"external_id": "shopper-1"},
        "total": "80.00",
        "currency": "USD",
        "placed_at": timezone.now().isoformat(),
        **extra,
    }


def test_an_order_with_a_code_refers_its_member_and_is_their_first_order(shop):
    advocate = member_make(shop.merchant)

    response = post_json(shop.client, ORDERS, order_body(referral_code=code_of(advocate)))

    assert response.status_code == 201, response.content
    referral = Referral.objects.get(friend__external_id="shopper-1")
    order = Order.objects.get(external_id=response.json()["external_id"])
    assert (referral.status, referral.first_order_id) == (ReferralStatus.PENDING, order.pk)


def test_an_order_with_an_unknown_code_is_refused_whole(shop):
    before = db_state()

    response = post_json(shop.client, ORDERS, order_body(referral_code="NOPE2345"))

    assert_problem(response, 400, "referral_code_unknown", attr="referral_code")
    assert db_state() == before


def test_an_order_without_a_code_makes_no_referral(shop):
    response = post_json(shop.client, ORDERS, order_body())

    assert response.status_code == 201
    assert not Referral.objects.exists()


def test_the_bulk_orders_call_refuses_an_item_with_a_referral(shop):
    response = post_json(
        shop.client, f"{ORDERS}bulk/", {"orders": [order_body(referral_code="ABCD2345")]}
    )

    (item,) = response.json()["results"]
    assert item["status"] == "error"
    assert item["problem"]["errors"][0]["attr"] == "referral_code"
    assert not Order.objects.exists()


# -- GET /members/{external_id}/referrals/ ----------------------------------------------------


def test_the_referrals_of_a_member_show_code_link_terms_and_statuses_without_the_friends(
    shop, settings
):
    settings.PUBLIC_BASE_URL = "https://loyalty.example.com"
    advocate = member_make(shop.merchant)
    code = code_of(advocate)
    clear = member_make(shop.merchant, email="secret-friend@example.com", first_name="Zora")
    blocked = member_make(shop.merchant)
    order_post(shop.merchant, blocked, "20.00")
    services.referral_attach(merchant=shop.merchant, friend=clear, code=code, actor=SYSTEM)
    services.referral_attach(merchant=shop.merchant, friend=blocked, code=code, actor=SYSTEM)

    response = shop.client.get(referrals_url(advocate.external_id))

    assert response.status_code == 200
    body = response.json()
    assert body["code"] == code
    assert body["link"] == f"https://loyalty.example.com/r/{code}"
    assert body["terms"] == {
        "advocate_points": 500,
        "friend_points": 250,
        "min_order_total": "50.00",
        "currency": "USD",
        "pending_days": 30,
    }
    assert body["counts"]["pending"] == 1
    assert body["counts"]["blocked"] == 1
    statuses = {item["status"]: item for item in body["referrals"]}
    assert statuses["blocked"]["reason"] == "The friend had ordered before."
    assert statuses["pending"]["reason"] is None
    text = response.content.decode()
    for private in (clear.external_id, blocked.external_id, "secret-friend", "Zora"):
        assert private not in text


def test_a_flagged_referral_says_only_that_it_is_reviewed(shop):
    advocate = member_make(shop.merchant)
    services.referral_identity_note(member=advocate, device_id="shared")
    services.referral_attach(
        merchant=shop.merchant,
        friend=member_make(shop.merchant),
        code=code_of(advocate),
        device_id="shared",
        actor=SYSTEM,
    )

    (item,) = shop.client.get(referrals_url(advocate.external_id)).json()["referrals"]

    assert (item["status"], item["reason"]) == ("flagged", None)
    assert item["status_label"] == "Waiting for a review"


def test_a_program_without_referrals_answers_no_terms(tenant):
    program_for(tenant.merchant)
    member = member_make(tenant.merchant)

    body = tenant.client.get(referrals_url(member.external_id)).json()

    assert body["terms"] is None
    assert body["referrals"] == []


def test_another_merchants_member_and_an_unknown_member_are_404(tenant_pair):
    a, b = tenant_pair.a, tenant_pair.b
    terms_on(a.merchant)
    member = member_make(a.merchant)

    assert_not_found(b.client.get(referrals_url(member.external_id)))
    assert_not_found(a.client.get(referrals_url("no-such-member")))
    assert not Referral.objects.exists()


# -- /r/<code> -----------------------------------------------------------------------------------


def test_the_link_leads_to_the_landing_page_with_the_code_added(shop, client):
    ReferralTerms.objects.filter(program__merchant=shop.merchant).update(
        landing_url="https://shop.example/join?utm=x#top"
    )
    code = code_of(member_make(shop.merchant, email="ana@example.com"))

    response = client.get(f"/r/{code.lower()}")

    assert response.status_code == 302
    assert response["Location"] == f"https://shop.example/join?utm=x&ref={code}#top"
    assert "ana" not in response["Location"]


def test_the_link_falls_back_to_the_brands_shop_then_the_store(shop, client):
    code = code_of(member_make(shop.merchant))
    store_create(
        merchant=shop.merchant, name="S", platform="shopify", domain="store.example", actor=SYSTEM
    )
    assert client.get(f"/r/{code}")["Location"] == f"https://store.example/?ref={code}"

    MerchantBrand.objects.create(merchant=shop.merchant, shop_url="https://brand.example/?ref=old")

    assert client.get(f"/r/{code}")["Location"] == f"https://brand.example/?ref={code}"


def test_an_unknown_code_is_a_friendly_404_page(client, db):
    response = client.get("/r/NOSUCH23")

    assert response.status_code == 404
    assert "This invitation link does not work" in response.content.decode()


def test_a_code_of_a_merchant_with_nowhere_to_go_is_shown_to_type_in(shop, client):
    member = member_make(shop.merchant, email="ana@example.com")
    code = code_of(member)

    response = client.get(f"/r/{code}")

    assert response.status_code == 200
    page = response.content.decode()
    assert code in page
    assert member.external_id not in page
    assert "ana@example.com" not in page
