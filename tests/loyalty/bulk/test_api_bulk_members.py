"""``POST /api/v1/members/bulk/``: up to 1,000 upserts a call, answered per item."""

import pytest

from loyalty.models import Member, MemberAttribute
from loyalty.services.members import member_anonymise
from tests.conftest import assert_problem
from tests.loyalty.apihelpers import db_state, post_json
from tests.loyalty.factories import member_make

pytestmark = pytest.mark.django_db

BULK = "/api/v1/members/bulk/"


def bulk(tenant, members):
    return post_json(tenant.client, BULK, {"members": members})


def test_each_member_is_created_or_updated_and_answered_in_order(tenant):
    member_make(tenant.merchant, "known", first_name="Old")
    response = bulk(
        tenant,
        [
            {"external_id": "known", "first_name": "New"},
            {"external_id": "fresh", "email": "fresh@example.com", "country": "FR"},
            {"external_id": "bad", "email": "not-an-email"},
            {"external_id": ""},
        ],
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [
        (0, "updated"),
        (1, "created"),
        (2, "error"),
        (3, "error"),
    ]
    assert results[0]["member"]["first_name"] == "New"
    assert results[1]["member"]["country"] == "FR"
    assert results[2]["problem"]["errors"][0]["attr"] == "email"
    assert results[3]["problem"]["errors"][0]["attr"] == "external_id"
    assert not Member.objects.filter(merchant=tenant.merchant, external_id="bad").exists()


def test_the_same_call_twice_changes_nothing_more(tenant):
    members = [{"external_id": f"m-{n}", "first_name": f"N{n}"} for n in range(20)]
    bulk(tenant, members)
    before = db_state()
    again = bulk(tenant, members)
    assert {r["status"] for r in again.json()["results"]} == {"updated"}
    assert [
        {k: v for k, v in row.items() if k != "updated_at"} for row in db_state()["Member"]
    ] == [{k: v for k, v in row.items() if k != "updated_at"} for row in before["Member"]]


def test_attributes_are_checked_against_the_schema(tenant):
    MemberAttribute.objects.create(
        merchant=tenant.merchant, name="shoe_size", label="Shoe size", type="number"
    )
    results = bulk(
        tenant,
        [
            {"external_id": "a", "attributes": {"shoe_size": 42}},
            {"external_id": "b", "attributes": {"shoe_size": "big"}},
        ],
    ).json()["results"]
    assert [r["status"] for r in results] == ["created", "error"]
    assert "shoe_size" in results[1]["problem"]["detail"]


def test_an_anonymised_member_is_not_updated(tenant):
    member = member_make(tenant.merchant, "gone", email="gone@example.com")
    member_anonymise(merchant=tenant.merchant, member=member)
    results = bulk(tenant, [{"external_id": "gone", "email": "back@example.com"}]).json()["results"]
    assert results[0]["status"] == "error"
    assert results[0]["problem"]["code"] == "member_not_active"


@pytest.mark.parametrize("body", [{}, {"members": []}, {"members": [{}] * 1001}, []])
def test_a_body_that_is_not_a_list_of_1_to_1000_members_is_a_400(tenant, body):
    before = db_state()
    assert_problem(post_json(tenant.client, BULK, body), 400, "invalid_input", "members")
    assert db_state() == before


def test_another_merchants_member_of_the_same_id_is_untouched(tenant_pair):
    theirs = member_make(tenant_pair.b.merchant, "same", first_name="Theirs")
    bulk(tenant_pair.a, [{"external_id": "same", "first_name": "Ours"}])
    theirs.refresh_from_db()
    assert theirs.first_name == "Theirs"
    assert Member.objects.get(merchant=tenant_pair.a.merchant, external_id="same").first_name == (
        "Ours"
    )
