"""Who each ledger entry and tier change says acted: the store's key for what came through
the API, the staff user for an admin correction, the job by name for a scheduled run."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty import jobs
from loyalty.models import EarningRule, LedgerEntry, Member, Tier, TierChange
from tests.loyalty.apihelpers import post_json, program_for

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def order(tenant, external_id: str = "o-1", total: str = "120.00"):
    placed_at = timezone.now() - datetime.timedelta(hours=1)
    body = {
        "external_id": external_id,
        "member": "cust-1",
        "total": total,
        "currency": "USD",
        "placed_at": placed_at.isoformat(),
    }
    response = post_json(tenant.client, "/api/v1/orders/", body)
    assert response.status_code == 201, response.content
    return response


def recorded_by(entry_or_change) -> tuple:
    return (entry_or_change.actor_id, entry_or_change.api_key_id, entry_or_change.actor_label)


def test_an_order_a_refund_and_an_activity_through_the_api_record_the_key(tenant, program):
    by_key = (None, tenant.api_key.pk, f"API key {tenant.api_key.prefix}")
    order(tenant)
    refunded = post_json(
        tenant.client, "/api/v1/orders/o-1/refunds/", {"external_id": "r-1", "amount": "20.00"}
    )
    assert refunded.status_code == 201, refunded.content
    EarningRule.objects.create(
        program=program,
        name="Review bonus",
        kind="activity_bonus",
        activity_kind="review",
        bonus_points=25,
    )
    activity = post_json(
        tenant.client,
        "/api/v1/activities/",
        {"external_id": "act-1", "member": {"external_id": "cust-1"}, "kind": "review"},
    )
    assert activity.status_code == 201, activity.content

    entries = LedgerEntry.objects.filter(merchant=tenant.merchant)
    assert {(e.source_type, *recorded_by(e)) for e in entries} == {
        (LedgerEntry.Source.ORDER, *by_key),
        (LedgerEntry.Source.REFUND, *by_key),
        (LedgerEntry.Source.ACTIVITY, *by_key),
    }


def test_an_adjustment_through_the_api_records_the_key_and_no_user(tenant, program):
    order(tenant)
    response = post_json(
        tenant.client,
        "/api/v1/members/cust-1/adjustments/",
        {"points": 10, "reason": "store goodwill"},
    )
    assert response.status_code == 201, response.content
    entry = LedgerEntry.objects.get(merchant=tenant.merchant, kind=LedgerEntry.Kind.ADJUST)
    assert recorded_by(entry) == (None, tenant.api_key.pk, f"API key {tenant.api_key.prefix}")


def test_a_tier_reached_by_an_api_order_records_the_key_on_the_tier_change(tenant):
    program = program_for(tenant.merchant, pending_days=0, tiers_enabled=True)
    Tier.objects.create(program=program, name="Gold", threshold=Decimal(100))
    order(tenant, total="150.00")
    change = TierChange.objects.get(member__merchant=tenant.merchant)
    assert recorded_by(change) == (None, tenant.api_key.pk, f"API key {tenant.api_key.prefix}")


def test_the_admin_adjustment_records_the_staff_user_and_shows_who_on_the_member_page(
    admin_client, admin_user, tenant, program
):
    order(tenant)
    member = Member.objects.get(merchant=tenant.merchant, external_id="cust-1")
    admin_client.post(
        reverse("admin:loyalty_member_changelist"),
        {
            "action": "adjust_points",
            "_selected_action": [member.pk],
            "apply": "1",
            "points": "15",
            "reason": "late delivery",
        },
    )
    entry = LedgerEntry.objects.get(member=member, kind=LedgerEntry.Kind.ADJUST)
    assert recorded_by(entry) == (admin_user.pk, None, admin_user.get_username())

    member_page = reverse("admin:loyalty_member_change", args=[member.pk])
    page = admin_client.get(member_page, {"tab": "points"})
    content = page.content.decode()
    assert f"<td>{admin_user.get_username()}</td>" in content
    assert f"<td>API key {tenant.api_key.prefix}</td>" in content


def test_the_release_and_expiry_jobs_name_themselves_on_the_entries_they_write(tenant):
    program_for(tenant.merchant, expiry_policy="lot_age", expiry_months=1)
    order(tenant)
    later = timezone.now() + 15 * DAY
    jobs.release_pending_points(now=later)
    jobs.expire_points(now=later + 60 * DAY)

    by_job = {
        e.kind: recorded_by(e)
        for e in LedgerEntry.objects.filter(
            merchant=tenant.merchant,
            kind__in=[LedgerEntry.Kind.RELEASE, LedgerEntry.Kind.EXPIRE],
        )
    }
    assert by_job == {
        LedgerEntry.Kind.RELEASE: (None, None, "release_pending_points"),
        LedgerEntry.Kind.EXPIRE: (None, None, "expire_points"),
    }


def test_the_tier_recomputation_names_itself_on_the_changes_it_writes(tenant):
    program = program_for(tenant.merchant, pending_days=0, tiers_enabled=True)
    Tier.objects.create(program=program, name="Gold", threshold=Decimal(100))
    order(tenant, total="150.00")  # Gold at once; out of the window a year and more later

    jobs.recompute_tiers(now=timezone.now() + 400 * DAY)

    change = TierChange.objects.get(member__merchant=tenant.merchant, to_tier=None)
    assert recorded_by(change) == (None, None, "recompute_tiers")
