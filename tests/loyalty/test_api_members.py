"""The store API's member endpoints, through the real client and a merchant's Bearer key:
``POST /api/v1/members/``, ``GET .../{external_id}/``, ``GET .../ledger/`` and
``POST .../adjustments/``."""

from decimal import Decimal

import pytest
from django.utils import timezone

from core.actors import SYSTEM, Actor
from loyalty.models import LedgerEntry, Member, Tier
from loyalty.services import members, orders
from merchants.models import Scope
from tests.conftest import assert_not_found, assert_problem, make_tenant
from tests.loyalty.apihelpers import db_state, post_json, program_for
from tests.loyalty.factories import member_make

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/members/"


def member_url(external_id: str, suffix: str = "") -> str:
    return f"{MEMBERS}{external_id}/{suffix}"


def adjust(merchant, member: Member, points: int, reason: str = "test") -> LedgerEntry:
    return members.member_adjust_points(
        merchant=merchant, member=member, points=points, reason=reason, actor=SYSTEM
    )


def order_record(merchant, member_external_id: str, external_id: str, total: str):
    return orders.order_record(
        merchant=merchant,
        data=orders.OrderInput(
            external_id=external_id,
            member_external_id=member_external_id,
            total=Decimal(total),
            currency=merchant.default_currency,
            placed_at=timezone.now(),
        ),
        actor=Actor.system("test"),
    ).obj


# -- POST /members/ ----------------------------------------------------------------------


def test_post_member_creates_it_with_the_fields_given(tenant):
    response = post_json(
        tenant.client,
        MEMBERS,
        {
            "external_id": "cust-1001",
            "email": "ana@example.com",
            "first_name": "Ana",
            "last_name": "Lima",
            "country": "PT",
            "locale": "pt-PT",
            "birthday": "1990-05-17",
            "marketing_consent": True,
            "attributes": {"segment": "vip"},
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["external_id"] == "cust-1001"
    assert body["email"] == "ana@example.com"
    assert (body["first_name"], body["last_name"]) == ("Ana", "Lima")
    assert (body["country"], body["locale"], body["birthday"]) == ("PT", "pt-PT", "1990-05-17")
    assert body["marketing_consent"] is True
    assert body["attributes"] == {"segment": "vip"}
    assert body["status"] == "active"
    assert body["tier"] is None
    assert (body["points_balance"], body["pending_points"], body["lifetime_points"]) == (0, 0, 0)
    member = Member.objects.get(merchant=tenant.merchant, external_id="cust-1001")
    assert member.email == "ana@example.com"
    assert member.country.code == "PT"


def test_post_member_again_updates_only_the_fields_given(tenant):
    post_json(tenant.client, MEMBERS, {"external_id": "cust-1", "email": "a@example.com"})

    response = post_json(
        tenant.client, MEMBERS, {"external_id": "cust-1", "first_name": "Bea", "country": "FR"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["email"], body["first_name"], body["country"]) == ("a@example.com", "Bea", "FR")
    assert Member.objects.filter(merchant=tenant.merchant, external_id="cust-1").count() == 1


def test_post_member_with_only_its_external_id_changes_nothing_on_a_known_member(tenant):
    member = member_make(tenant.merchant, "cust-1", email="keep@example.com", first_name="Kim")

    response = post_json(tenant.client, MEMBERS, {"external_id": member.external_id})

    assert response.status_code == 200
    assert (response.json()["email"], response.json()["first_name"]) == ("keep@example.com", "Kim")


def test_post_member_keeps_the_balance_it_has(tenant, program):
    member = member_make(tenant.merchant, "cust-1")
    adjust(tenant.merchant, member, 40)

    response = post_json(
        tenant.client, MEMBERS, {"external_id": member.external_id, "locale": "en"}
    )

    assert response.status_code == 200
    assert response.json()["points_balance"] == 40


def test_an_anonymised_member_cannot_be_updated(tenant):
    member = member_make(tenant.merchant, "cust-1", email="gone@example.com")
    members.member_anonymise(merchant=tenant.merchant, member=member)
    before = db_state()

    response = post_json(
        tenant.client, MEMBERS, {"external_id": member.external_id, "email": "back@example.com"}
    )

    assert_problem(response, 409, "member_not_active")
    assert db_state() == before


def test_a_read_only_key_cannot_create_members(tenant):
    reader = make_tenant(tenant.merchant, scopes=(Scope.READ,))

    response = post_json(reader.client, MEMBERS, {"external_id": "cust-1"})

    assert_problem(response, 403, "insufficient_scope")
    assert not Member.objects.exists()


def test_requests_without_a_key_are_refused(tenant):
    member_make(tenant.merchant, "cust-1")
    tenant.client.credentials()

    assert_problem(tenant.client.get(member_url("cust-1")), 401, "not_authenticated")
    assert_problem(
        post_json(tenant.client, MEMBERS, {"external_id": "x"}), 401, "not_authenticated"
    )


MEMBER_BAD_BODIES = [
    pytest.param({}, "external_id", id="external_id-missing"),
    pytest.param({"external_id": ""}, "external_id", id="external_id-blank"),
    pytest.param({"external_id": "has space"}, "external_id", id="external_id-space"),
    pytest.param({"external_id": "x" * 200}, "external_id", id="external_id-200-chars"),
    pytest.param({"external_id": ["a"]}, "external_id", id="external_id-list"),
    pytest.param({"external_id": None}, "external_id", id="external_id-null"),
    pytest.param({"external_id": "c-1", "email": "not-an-email"}, "email", id="email-invalid"),
    pytest.param({"external_id": "c-1", "email": 5}, "email", id="email-number"),
    pytest.param({"external_id": "c-1", "country": "XX"}, "country", id="country-unknown"),
    pytest.param({"external_id": "c-1", "locale": "!!"}, "locale", id="locale-invalid"),
    pytest.param({"external_id": "c-1", "first_name": "x" * 121}, "first_name", id="name-long"),
    pytest.param({"external_id": "c-1", "first_name": "a\u0000b"}, "first_name", id="name-nul"),
    pytest.param({"external_id": "c-1", "birthday": "17/05/1990"}, "birthday", id="birthday-fmt"),
    pytest.param({"external_id": "c-1", "birthday": "10000-01-01"}, "birthday", id="birthday-y10k"),
    pytest.param(
        {"external_id": "c-1", "marketing_consent": "maybe"}, "marketing_consent", id="consent"
    ),
    pytest.param({"external_id": "c-1", "attributes": ["a"]}, "attributes", id="attributes-list"),
    pytest.param(
        {"external_id": "c-1", "attributes": {"blob": "x" * 20_000}},
        "attributes",
        id="attributes-too-big",
    ),
]


@pytest.mark.parametrize(("body", "attr"), MEMBER_BAD_BODIES)
def test_bad_member_bodies_get_a_field_error_and_change_nothing(tenant, body, attr):
    member_make(tenant.merchant, "c-1", email="c1@example.com")
    before = db_state()

    response = post_json(tenant.client, MEMBERS, body)

    assert_problem(response, 400, "invalid_input", attr=attr)
    assert db_state() == before


def test_a_new_member_with_a_too_long_email_gets_a_field_error(tenant):
    before = db_state()

    response = post_json(
        tenant.client, MEMBERS, {"external_id": "c-1", "email": "a" * 250 + "@b.co"}
    )

    assert_problem(response, 400, "invalid_input", attr="email")
    assert db_state() == before


def test_a_nul_character_in_attributes_is_never_a_server_error(tenant):
    response = post_json(
        tenant.client, MEMBERS, {"external_id": "c-1", "attributes": {"note": "a\u0000b"}}
    )

    assert response.status_code in (200, 201, 400), response.content
    if response.status_code == 400:
        assert_problem(response, 400, "invalid_input", attr="attributes")


def test_a_birthday_in_the_future_is_refused(tenant):
    response = post_json(tenant.client, MEMBERS, {"external_id": "c-1", "birthday": "2999-01-01"})

    assert_problem(response, 400, "invalid_input", attr="birthday")
    assert not Member.objects.exists()


# -- GET /members/{external_id}/ ---------------------------------------------------------


def test_get_member_returns_its_balances_and_tier(tenant):
    program_for(tenant.merchant, tiers_enabled=True)
    Tier.objects.create(
        program=tenant.merchant.programs.get(),
        name="Gold",
        threshold=Decimal("50"),
        multiplier=Decimal("1.5"),
        benefits="Free shipping",
    )
    member = member_make(tenant.merchant, "cust-1", email="ana@example.com")
    order_record(tenant.merchant, member.external_id, "o-1", "100.00")  # pending, 100
    adjust(tenant.merchant, member, 30)
    adjust(tenant.merchant, member, -5)

    response = tenant.client.get(member_url(member.external_id))

    assert response.status_code == 200
    body = response.json()
    assert body["external_id"] == member.external_id
    assert body["email"] == "ana@example.com"
    assert body["points_balance"] == 25
    assert body["pending_points"] == 100
    assert body["lifetime_points"] == 130
    assert body["tier"] == {"name": "Gold", "multiplier": "1.500", "benefits": "Free shipping"}


def test_get_member_without_a_tier_has_a_null_tier(tenant, program):
    member = member_make(tenant.merchant, "cust-1")

    body = tenant.client.get(member_url(member.external_id)).json()

    assert body["tier"] is None
    assert body["points_balance"] == 0


def test_get_unknown_member_is_404(tenant):
    assert_not_found(tenant.client.get(member_url("nobody")))


def test_get_member_query_count_is_pinned(tenant, program, django_assert_max_num_queries):
    Tier.objects.create(program=program, name="Gold", threshold=0)
    member = member_make(tenant.merchant, "cust-1")
    member.tier = program.tiers.get()
    member.save(update_fields=["tier"])
    tenant.client.get(member_url(member.external_id))  # the key's last_used_at is touched

    # The key (with its merchant) and the member with its tier: nothing per field.
    with django_assert_max_num_queries(2):
        response = tenant.client.get(member_url(member.external_id))

    assert response.json()["tier"]["name"] == "Gold"


@pytest.mark.parametrize("suffix", ["", "ledger/"])
def test_a_nul_byte_in_the_member_url_is_not_a_server_error(tenant, suffix):
    response = tenant.client.get(member_url("a%00b", suffix))

    assert response.status_code in (400, 404), response.content
    assert response["Content-Type"].startswith("application/problem+json")


# -- GET /members/{external_id}/ledger/ --------------------------------------------------


def test_ledger_is_newest_first_in_cursor_pages(tenant, program):
    member = member_make(tenant.merchant, "cust-1")
    for n in range(1, 31):
        adjust(tenant.merchant, member, n, reason=f"r{n}")

    seen: list[str] = []
    url = member_url(member.external_id, "ledger/?page_size=10")
    pages = 0
    while url:
        response = tenant.client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body["results"]) == 10
        if pages:
            assert body["previous"]
        seen += [entry["reason"] for entry in body["results"]]
        url = body["next"]
        pages += 1

    assert pages == 3
    assert seen == [f"r{n}" for n in range(30, 0, -1)]


def test_ledger_entries_carry_their_running_balance(tenant, program):
    member = member_make(tenant.merchant, "cust-1")
    order_record(tenant.merchant, member.external_id, "o-1", "40.00")
    adjust(tenant.merchant, member, 10, reason="goodwill")
    adjust(tenant.merchant, member, -4, reason="correction")

    results = tenant.client.get(member_url(member.external_id, "ledger/")).json()["results"]

    assert [(e["kind"], e["points"], e["pending"]) for e in results] == [
        ("adjust", -4, 0),
        ("adjust", 10, 0),
        ("earn", 0, 40),
    ]
    assert [(e["balance_after"], e["pending_after"]) for e in results] == [
        (6, 40),
        (10, 40),
        (0, 40),
    ]
    assert results[2]["source_type"] == "order"
    assert results[2]["source_ref"] == "o-1"
    assert results[0]["reason"] == "correction"


def test_ledger_default_page_holds_50_and_has_no_next_below_that(tenant, program):
    member = member_make(tenant.merchant, "cust-1")
    for n in range(3):
        adjust(tenant.merchant, member, n + 1)

    body = tenant.client.get(member_url(member.external_id, "ledger/")).json()

    assert len(body["results"]) == 3
    assert body["next"] is None
    assert body["previous"] is None


def test_ledger_shows_only_this_members_entries(tenant, program):
    member = member_make(tenant.merchant, "cust-1")
    other = member_make(tenant.merchant, "cust-2")
    adjust(tenant.merchant, member, 5)
    adjust(tenant.merchant, other, 7)

    results = tenant.client.get(member_url("cust-1", "ledger/")).json()["results"]

    assert [entry["points"] for entry in results] == [5]


@pytest.mark.parametrize("query", ["page_size=-3", "page_size=abc", "page_size=0", "page_size=201"])
def test_ledger_page_size_outside_1_to_200_is_a_400_naming_it(tenant, program, query):
    member = member_make(tenant.merchant, "cust-1")

    response = tenant.client.get(member_url(member.external_id, f"ledger/?{query}"))

    assert_problem(response, 400, "invalid_input", attr="page_size")


@pytest.mark.parametrize("query", ["cursor=garbage", "page_size=200", "page_size=1"])
def test_ledger_odd_query_parameters_are_never_a_server_error(tenant, program, query):
    member = member_make(tenant.merchant, "cust-1")
    adjust(tenant.merchant, member, 5)

    response = tenant.client.get(member_url(member.external_id, f"ledger/?{query}"))

    if response.status_code == 200:
        assert [entry["points"] for entry in response.json()["results"]] == [5]
    else:
        assert_problem(response, 404, "not_found")


def test_ledger_of_unknown_member_is_404(tenant):
    assert_not_found(tenant.client.get(member_url("nobody", "ledger/")))


def test_ledger_query_count_is_pinned(tenant, program, django_assert_max_num_queries):
    member = member_make(tenant.merchant, "cust-1")
    for n in range(30):
        adjust(tenant.merchant, member, n + 1)
    tenant.client.get(member_url(member.external_id))  # the key's last_used_at is touched

    # The key, the member, one page of entries: nothing per entry.
    with django_assert_max_num_queries(3):
        response = tenant.client.get(member_url(member.external_id, "ledger/?page_size=30"))

    assert len(response.json()["results"]) == 30


# -- POST /members/{external_id}/adjustments/ --------------------------------------------


def test_positive_adjustment_credits_the_member(tenant, program):
    member = member_make(tenant.merchant, "cust-1")

    response = post_json(
        tenant.client,
        member_url(member.external_id, "adjustments/"),
        {"points": 25, "reason": "goodwill"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["points"], body["balance_after"]) == ("adjust", 25, 25)
    assert (body["reason"], body["source_type"]) == ("goodwill", "staff")
    member.refresh_from_db()
    assert (member.points_balance, member.lifetime_points) == (25, 25)


def test_negative_adjustment_debits_the_member(tenant, program):
    member = member_make(tenant.merchant, "cust-1")
    adjust(tenant.merchant, member, 25)

    response = post_json(
        tenant.client,
        member_url(member.external_id, "adjustments/"),
        {"points": -10, "reason": "duplicate credit"},
    )

    assert response.status_code == 201, response.content
    assert (response.json()["points"], response.json()["balance_after"]) == (-10, 15)
    member.refresh_from_db()
    assert member.points_balance == 15
    assert tenant.client.get(member_url(member.external_id)).json()["points_balance"] == 15


def test_negative_adjustment_beyond_the_balance_is_409_and_changes_nothing(tenant, program):
    member = member_make(tenant.merchant, "cust-1")
    adjust(tenant.merchant, member, 15)
    before = db_state()

    response = post_json(
        tenant.client,
        member_url(member.external_id, "adjustments/"),
        {"points": -16, "reason": "too much"},
    )

    body = assert_problem(response, 409, "insufficient_points", attr="points")
    assert body["balance"] == 15
    assert db_state() == before


def test_negative_adjustment_cannot_take_pending_points(tenant, program):
    member = member_make(tenant.merchant, "cust-1")
    order_record(tenant.merchant, member.external_id, "o-1", "50.00")
    before = db_state()

    response = post_json(
        tenant.client, member_url(member.external_id, "adjustments/"), {"points": -1, "reason": "x"}
    )

    assert_problem(response, 409, "insufficient_points", attr="points")
    assert db_state() == before


def test_adjustments_need_the_adjust_scope(tenant, program):
    member = member_make(tenant.merchant, "cust-1")
    writer = make_tenant(tenant.merchant, scopes=(Scope.READ, Scope.WRITE))
    before = db_state()

    response = post_json(
        writer.client,
        member_url(member.external_id, "adjustments/"),
        {"points": 10, "reason": "goodwill"},
    )

    assert_problem(response, 403, "insufficient_scope")
    assert db_state() == before


def test_adjustment_of_unknown_member_is_404(tenant, program):
    response = post_json(
        tenant.client, member_url("nobody", "adjustments/"), {"points": 10, "reason": "x"}
    )

    assert_not_found(response)
    assert not LedgerEntry.objects.exists()


def test_adjustment_without_an_active_program_is_409(tenant):
    member = member_make(tenant.merchant, "cust-1")

    response = post_json(
        tenant.client, member_url(member.external_id, "adjustments/"), {"points": 10, "reason": "x"}
    )

    assert_problem(response, 409, "no_active_program")
    assert not LedgerEntry.objects.exists()


ADJUSTMENT_BAD_BODIES = [
    pytest.param({"reason": "x"}, "points", id="points-missing"),
    pytest.param({"points": 10}, "reason", id="reason-missing"),
    pytest.param({"points": 10, "reason": "   "}, "reason", id="reason-blank"),
    pytest.param({"points": 10, "reason": "x" * 501}, "reason", id="reason-long"),
    pytest.param({"points": 0, "reason": "x"}, "points", id="points-zero"),
    pytest.param({"points": 1.5, "reason": "x"}, "points", id="points-fraction"),
    pytest.param({"points": "ten", "reason": "x"}, "points", id="points-text"),
    pytest.param({"points": 10**13, "reason": "x"}, "points", id="points-huge"),
    pytest.param({"points": -(10**13), "reason": "x"}, "points", id="points-huge-negative"),
    pytest.param({"points": 1e20, "reason": "x"}, "points", id="points-1e20"),
    pytest.param({"points": None, "reason": "x"}, "points", id="points-null"),
    pytest.param({"points": True, "reason": "x"}, "points", id="points-bool"),
]


@pytest.mark.parametrize(("body", "attr"), ADJUSTMENT_BAD_BODIES)
def test_bad_adjustment_bodies_get_a_field_error_and_change_nothing(tenant, program, body, attr):
    member = member_make(tenant.merchant, "cust-1")
    adjust(tenant.merchant, member, 50)
    before = db_state()

    response = post_json(tenant.client, member_url(member.external_id, "adjustments/"), body)

    assert_problem(response, 400, "invalid_input", attr=attr)
    assert db_state() == before


def test_a_nul_byte_in_the_adjustment_url_is_not_a_server_error(tenant, program):
    response = post_json(
        tenant.client, member_url("a%00b", "adjustments/"), {"points": 1, "reason": "x"}
    )

    assert response.status_code in (400, 404), response.content


# -- tenant isolation --------------------------------------------------------------------


@pytest.fixture
def pair(tenant_pair):
    for tenant in (tenant_pair.a, tenant_pair.b):
        program_for(tenant.merchant)
    return tenant_pair


def test_another_merchants_member_does_not_exist(pair):
    member = member_make(pair.a.merchant, "shared-1", email="a@example.com")
    adjust(pair.a.merchant, member, 20)
    before = db_state()

    assert_not_found(pair.b.client.get(member_url("shared-1")))
    assert_not_found(pair.b.client.get(member_url("shared-1", "ledger/")))
    assert_not_found(
        post_json(
            pair.b.client, member_url("shared-1", "adjustments/"), {"points": -20, "reason": "x"}
        )
    )
    assert_not_found(
        post_json(
            pair.b.client, member_url("shared-1", "adjustments/"), {"points": 20, "reason": "x"}
        )
    )

    assert db_state() == before


def test_same_external_id_at_another_merchant_is_its_own_member(pair):
    member_a = member_make(pair.a.merchant, "shared-1", email="a@example.com")
    adjust(pair.a.merchant, member_a, 20, reason="a's credit")

    created = post_json(pair.b.client, MEMBERS, {"external_id": "shared-1", "email": "b@x.com"})
    adjusted = post_json(
        pair.b.client, member_url("shared-1", "adjustments/"), {"points": 3, "reason": "b's"}
    )

    assert created.status_code == 201  # not an update of a's member
    assert created.json()["points_balance"] == 0
    assert adjusted.status_code == 201
    ledger_b = pair.b.client.get(member_url("shared-1", "ledger/")).json()["results"]
    assert [entry["reason"] for entry in ledger_b] == ["b's"]
    assert pair.b.client.get(member_url("shared-1")).json()["email"] == "b@x.com"
    member_a.refresh_from_db()
    assert (member_a.email, member_a.points_balance) == ("a@example.com", 20)
    ledger_a = pair.a.client.get(member_url("shared-1", "ledger/")).json()["results"]
    assert [entry["reason"] for entry in ledger_a] == ["a's credit"]


def test_there_is_no_member_list_to_leak_another_merchants_members(pair):
    member_make(pair.a.merchant, "only-a")

    response = pair.b.client.get(MEMBERS)

    assert_problem(response, 405, "method_not_allowed")
    assert "only-a" not in response.content.decode()
