"""``GET /api/v1/members/changes/``: the CRM's changes feed, by cursor."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from loyalty.models import Segment, SegmentMembership
from tests.conftest import assert_problem
from tests.loyalty.factories import member_make, order_post, points_give

pytestmark = pytest.mark.django_db

CHANGES = "/api/v1/members/changes/"


def later(seconds: int = 31):
    return time_machine.travel(timezone.now() + datetime.timedelta(seconds=seconds))


def page(tenant, since="0", **params):
    response = tenant.client.get(CHANGES, {"since": since, **params})
    assert response.status_code == 200, response.content
    return response.json()


def test_members_come_once_each_in_the_order_of_their_latest_change(tenant, program):
    ana = member_make(tenant.merchant, "ana", first_name="Ana")
    bo = member_make(tenant.merchant, "bo")
    points_give(ana, 10)
    member_make(tenant.merchant, "cy")
    with later():
        body = page(tenant)
    assert [m["external_id"] for m in body["results"]] == ["bo", "ana", "cy"]
    assert body["results"][1]["points_balance"] == 10
    sequences = [m["sequence"] for m in body["results"]]
    assert sequences == sorted(sequences)
    # Nothing new: the same cursor back, nothing listed.
    with later():
        again = page(tenant, body["next"])
    assert again == {"results": [], "next": body["next"]}
    order_post(tenant.merchant, bo, "25.00")
    with later(62):
        after = page(tenant, body["next"])
    assert [m["external_id"] for m in after["results"]] == ["bo"]
    assert after["results"][0]["lifetime_points"] == 25
    assert int(after["next"]) > int(body["next"])


def test_a_change_younger_than_30_seconds_waits(tenant, program):
    member_make(tenant.merchant, "new")
    assert page(tenant)["results"] == []
    with later():
        assert [m["external_id"] for m in page(tenant)["results"]] == ["new"]


def test_pages_follow_one_another_without_gaps(tenant, program):
    for n in range(7):
        member_make(tenant.merchant, f"m-{n}")
    seen, cursor = [], "0"
    with later():
        for _ in range(5):
            body = page(tenant, cursor, limit=3)
            seen += [m["external_id"] for m in body["results"]]
            cursor = body["next"]
            if len(body["results"]) < 3:
                break
    assert seen == [f"m-{n}" for n in range(7)]


def test_segments_come_with_the_member(tenant, program):
    member = member_make(tenant.merchant, "seg")
    segment = Segment.objects.create(
        merchant=tenant.merchant, name="VIP", definition={"groups": []}
    )
    SegmentMembership.objects.create(segment=segment, member=member, joined_at=timezone.now())
    with later():
        result = page(tenant)["results"][0]
    assert result["segments"] == [{"id": segment.pk, "name": "VIP"}]


def test_another_merchants_changes_are_not_listed(tenant_pair):
    member_make(tenant_pair.b.merchant, "theirs")
    with later():
        assert page(tenant_pair.a)["results"] == []


@pytest.mark.parametrize(
    "params", [{"since": "-1"}, {"since": "x"}, {"limit": "0"}, {"limit": "501"}, {"limit": ""}]
)
def test_bad_cursors_and_limits_are_a_400(tenant, params):
    assert_problem(tenant.client.get(CHANGES, params), 400, "invalid_input")
