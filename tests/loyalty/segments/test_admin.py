"""The segment page: build conditions as rows, preview them (in place with htmx, or by
reloading), save, refresh now, export the members; each by the staff allowed to."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Segment, Tier
from loyalty.segments import services
from tests.loyalty.factories import member_make, program_merchant
from tests.loyalty.segments.helpers import current, segment_make, where
from tests.merchants.factories import staff_in

pytestmark = pytest.mark.django_db

ADD = reverse("admin:loyalty_segment_add")


def rows(*conditions, blank=1):
    """The builder's POST: the formset's management fields and one row per condition."""
    data = {
        "c-TOTAL_FORMS": str(len(conditions) + blank),
        "c-INITIAL_FORMS": "0",
        "c-MIN_NUM_FORMS": "0",
        "c-MAX_NUM_FORMS": "1000",
    }
    for i, condition in enumerate(conditions):
        for key, value in condition.items():
            data[f"c-{i}-{key}"] = value
    for i in range(len(conditions), len(conditions) + blank):
        data[f"c-{i}-group"] = "1"
    return data


@pytest.fixture
def shop(db):
    merchant, program = program_merchant()
    program.tiers_enabled = True
    program.save()
    gold = Tier.objects.create(program=program, name="Gold", threshold=500)
    for i in range(25):
        member_make(merchant, f"fr{i}", country="FR", marketing_consent=i % 2 == 0)
    member_make(merchant, "de", country="DE", marketing_consent=True)
    other, _ = program_merchant()
    member_make(other, "elsewhere", country="FR")
    return merchant, gold


def marketer_client(client):
    client.force_login(staff_in("Marketing"))
    return client


def test_a_marketer_builds_previews_and_saves_a_segment(client, shop):
    merchant, gold = shop
    client = marketer_client(client)
    page = client.get(ADD)
    assert page.status_code == 200
    assert b"Conditions" in page.content
    form = {
        "merchant": str(merchant.pk),
        "name": "French with consent",
        "description": "",
        "is_active": "on",
        **rows(
            {"group": "1", "field": "country", "op": "in", "value": "fr, be"},
            {"group": "2", "field": "marketing_consent", "op": "is", "value": "yes"},
            {"group": "2", "field": "tier", "op": "in", "value": "gold"},
        ),
    }
    preview = client.post(ADD, {**form, "_preview": "1"})
    assert preview.status_code == 200
    assert preview.context["preview"].count == 13
    assert len(preview.context["preview"].sample) == 13
    assert Segment.objects.count() == 0

    fragment = client.post(ADD, {**form, "_preview": "1"}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert fragment.content.lstrip().startswith(b'<div id="segment-preview"')
    assert b"<strong>13</strong> members match now" in fragment.content

    saved = client.post(ADD, {**form, "_save": "Save"})
    assert saved.status_code == 302
    segment = Segment.objects.get()
    assert segment.definition["groups"][1]["conditions"][1] == {
        "field": "tier",
        "op": "in",
        "value": [gold.pk],
    }
    assert segment.created_by is not None
    change = client.get(reverse("admin:loyalty_segment_change", args=[segment.pk]))
    assert change.status_code == 200
    # The stored definition comes back as the rows it was built from.
    assert change.context["rows"].initial[2]["value"] == "Gold"
    assert change.context["rows"].initial[0]["value"] == "FR, BE"


def test_a_bad_condition_is_shown_on_its_row_and_nothing_is_saved(client, shop):
    merchant, _ = shop
    client = marketer_client(client)
    form = {
        "merchant": str(merchant.pk),
        "name": "Big spenders",
        "is_active": "on",
        **rows(
            {"group": "1", "field": "country", "op": "in", "value": "FR"},
            {"group": "1", "field": "spend", "op": "gte", "value": "lots", "last_days": "30"},
        ),
    }
    response = client.post(ADD, {**form, "_save": "Save"})
    assert response.status_code == 400
    bad_row = response.context["rows"].forms[1]
    assert "value" in bad_row.errors
    assert Segment.objects.count() == 0
    fragment = client.post(ADD, {**form, "_preview": "1"}, HTTP_HX_REQUEST="true")
    assert b"Row 2, value" in fragment.content


def test_refresh_now_and_the_members_csv(client, shop):
    merchant, _ = shop
    segment = segment_make(merchant, where({"field": "country", "op": "in", "value": ["DE"]}))
    client = marketer_client(client)
    changelist = reverse("admin:loyalty_segment_changelist")
    response = client.post(
        changelist, {"action": "refresh_now", "_selected_action": [segment.pk]}, follow=True
    )
    assert response.status_code == 200
    assert current(segment) == {"de"}
    listing = client.get(changelist)
    assert b"Country is one of DE" in listing.content
    export = client.get(reverse("admin:loyalty_segment_members_csv", args=[segment.pk]))
    assert export.status_code == 200
    table = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert [row["external_id"] for row in table] == ["de"]
    assert table[0]["country"] == "DE"


def test_care_agents_cannot_see_segments(client, shop):
    merchant, _ = shop
    segment = segment_make(merchant, where())
    services.segment_refresh(segment_id=segment.pk, now=timezone.now())
    client.force_login(staff_in("Customer care"))
    assert client.get(ADD).status_code == 403
    assert client.get(reverse("admin:loyalty_segment_change", args=[segment.pk])).status_code == 403
    export = client.get(reverse("admin:loyalty_segment_members_csv", args=[segment.pk]))
    assert export.status_code == 403


def test_operations_see_a_segment_read_only(client, shop):
    merchant, _ = shop
    segment = segment_make(merchant, where(), name="All")
    client.force_login(staff_in("Operations"))
    page = client.get(reverse("admin:loyalty_segment_change", args=[segment.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    posted = client.post(
        reverse("admin:loyalty_segment_change", args=[segment.pk]),
        {"name": "Renamed", **rows(), "_save": "Save"},
    )
    assert posted.status_code == 200
    segment.refresh_from_db()
    assert segment.name == "All"
