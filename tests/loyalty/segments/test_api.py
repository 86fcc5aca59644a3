"""GET /api/v1/members/{external_id}/segments/: the segments a member is in."""

import pytest
from django.utils import timezone

from loyalty.segments import services
from tests.conftest import assert_not_found
from tests.loyalty.apihelpers import program_for
from tests.loyalty.factories import member_make
from tests.loyalty.segments.helpers import segment_make, where

pytestmark = pytest.mark.django_db

FRANCE = {"field": "country", "op": "in", "value": ["FR"]}


def url(external_id):
    return f"/api/v1/members/{external_id}/segments/"


def test_lists_the_members_current_active_segments(tenant):
    merchant = tenant.merchant
    program_for(merchant)
    member_make(merchant, "ann", country="FR")
    france = segment_make(merchant, where(FRANCE), name="France", description="Lives in France")
    everyone = segment_make(merchant, where(), name="Everyone")
    paused = segment_make(merchant, where(), name="Paused")
    services.segments_refresh(now=timezone.now(), full=True)
    paused.is_active = False
    paused.save()
    response = tenant.client.get(url("ann"))
    assert response.status_code == 200
    body = response.json()
    assert {s["name"] for s in body["results"]} == {"France", "Everyone"}
    first = next(s for s in body["results"] if s["id"] == france.pk)
    assert first["description"] == "Lives in France"
    assert first["joined_at"]
    assert everyone.pk in [s["id"] for s in body["results"]]


def test_a_member_in_no_segment_has_an_empty_list(tenant):
    program_for(tenant.merchant)
    member_make(tenant.merchant, "bob")
    response = tenant.client.get(url("bob"))
    assert response.status_code == 200
    assert response.json() == {"results": []}


def test_another_merchants_member_is_a_404(tenant_pair):
    a = tenant_pair.a.merchant
    program_for(a)
    member_make(a, "ann", country="FR")
    segment_make(a, where(FRANCE))
    services.segments_refresh(now=timezone.now(), full=True)
    assert tenant_pair.a.client.get(url("ann")).status_code == 200
    assert_not_found(tenant_pair.b.client.get(url("ann")))
    assert_not_found(tenant_pair.a.client.get(url("nobody")))
    assert_not_found(tenant_pair.a.client.get(url("bad%20id%00")))
