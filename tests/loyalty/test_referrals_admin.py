"""Referrals in the ops admin: the list with its filters, the review queue (flagged
only, oldest first), approve and reject asking why and calling the services, who may
review, and the program's referral terms."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from core.actors import SYSTEM
from loyalty.models import Referral, ReferralEvent, ReferralStatus, ReferralTerms
from loyalty.referrals import services
from tests.loyalty.factories import member_make, order_post, program_merchant
from tests.merchants.factories import staff_in

pytestmark = pytest.mark.django_db

LIST = "admin:loyalty_referral_changelist"
QUEUE = "admin:loyalty_flaggedreferral_changelist"


@pytest.fixture
def world():
    merchant, program = program_merchant()
    ReferralTerms.objects.create(program=program, advocate_points=500, friend_points=250)
    advocate = member_make(merchant)
    services.referral_identity_note(member=advocate, device_id="shared")
    code = services.referral_code_get_or_create(member=advocate).code

    def refer(**kwargs) -> Referral:
        return services.referral_attach(
            merchant=merchant, friend=member_make(merchant), code=code, actor=SYSTEM, **kwargs
        )

    flagged = [refer(device_id="shared"), refer(device_id="shared")]
    Referral.objects.filter(pk=flagged[1].pk).update(
        created_at=timezone.now() - datetime.timedelta(days=2)
    )
    pending = refer()
    ordered = member_make(merchant)
    order_post(merchant, ordered, "10.00")
    blocked = services.referral_attach(merchant=merchant, friend=ordered, code=code, actor=SYSTEM)
    return {"flagged": flagged, "pending": pending, "blocked": blocked, "merchant": merchant}


def ids_on(response) -> list[int]:
    return [referral.pk for referral in response.context["cl"].result_list]


def test_the_review_queue_lists_flagged_referrals_oldest_first(client, world):
    client.force_login(staff_in("Operations"))

    response = client.get(reverse(QUEUE))

    assert response.status_code == 200
    older, newer = world["flagged"][1], world["flagged"][0]
    assert ids_on(response) == [older.pk, newer.pk]
    assert "used the advocate&#x27;s device" in response.content.decode()


def test_the_list_filters_by_status_and_by_the_check_that_fired(client, world):
    client.force_login(staff_in("Operations"))

    by_status = client.get(reverse(LIST), {"status__exact": "blocked"})
    by_reason = client.get(reverse(LIST), {"reason": "same_device"})

    assert ids_on(by_status) == [world["blocked"].pk]
    assert sorted(ids_on(by_reason)) == sorted(r.pk for r in world["flagged"])


def test_the_list_reads_a_bounded_number_of_queries(client, world, django_assert_max_num_queries):
    client.force_login(staff_in("Operations"))
    client.get(reverse(LIST))

    with django_assert_max_num_queries(10):
        assert client.get(reverse(LIST)).status_code == 200


def test_approving_from_the_queue_asks_why_then_calls_the_service(client, world):
    client.force_login(staff_in("Operations"))
    flagged, pending = world["flagged"][0], world["pending"]
    selection = {"action": "approve", "_selected_action": [flagged.pk, pending.pk]}

    confirm = client.post(reverse(QUEUE), selection)
    assert confirm.status_code == 200
    assert Referral.objects.get(pk=flagged.pk).status == ReferralStatus.FLAGGED

    done = client.post(reverse(LIST), {**selection, "apply": "1", "reason": "Flatmates"})

    assert done.status_code == 302
    assert Referral.objects.get(pk=flagged.pk).status == ReferralStatus.PENDING
    event = ReferralEvent.objects.filter(referral=flagged).last()
    assert "Flatmates" in event.reason
    assert event.actor_label.startswith("user") or event.actor is not None


def test_rejecting_needs_a_reason(client, world):
    client.force_login(staff_in("Operations"))
    flagged = world["flagged"][0]
    selection = {"action": "reject", "_selected_action": [flagged.pk], "apply": "1"}

    client.post(reverse(LIST), {**selection, "reason": ""})
    assert Referral.objects.get(pk=flagged.pk).status == ReferralStatus.FLAGGED

    client.post(reverse(LIST), {**selection, "reason": "One household, many accounts"})
    assert Referral.objects.get(pk=flagged.pk).status == ReferralStatus.REJECTED


@pytest.mark.parametrize("group", ["Marketing", "Customer care"])
def test_readers_see_referrals_but_may_not_review(client, world, group):
    client.force_login(staff_in(group))
    flagged = world["flagged"][0]

    assert client.get(reverse(QUEUE)).status_code == 200
    response = client.post(
        reverse(LIST),
        {"action": "approve", "_selected_action": [flagged.pk], "apply": "1", "reason": "x"},
    )

    assert response.status_code == 403
    assert Referral.objects.get(pk=flagged.pk).status == ReferralStatus.FLAGGED


def test_operations_edit_a_programs_referral_terms(client, world):
    client.force_login(staff_in("Operations"))
    terms = ReferralTerms.objects.get(program__merchant=world["merchant"])
    url = reverse("admin:loyalty_referralterms_change", args=[terms.pk])

    response = client.post(
        url,
        {
            "is_enabled": "on",
            "advocate_points": "800",
            "friend_points": "300",
            "min_order_total": "25.00",
            "pending_days": "14",
            "weekly_limit": "5",
            "landing_url": "https://shop.example/welcome",
        },
    )

    assert response.status_code == 302, response.content
    terms.refresh_from_db()
    assert (terms.advocate_points, terms.min_order_total) == (800, Decimal("25.00"))
    assert terms.landing_url == "https://shop.example/welcome"


@pytest.mark.parametrize("url_name", ["loyalty_referral_change", "loyalty_flaggedreferral_change"])
def test_a_referrals_page_shows_its_reasons_and_history(client, world, url_name):
    client.force_login(staff_in("Customer care"))
    flagged = world["flagged"][0]

    response = client.get(reverse(f"admin:{url_name}", args=[flagged.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Status history" in page
    assert "Made as Waiting for a review" in page
    assert "used the advocate&#x27;s device" in page
