"""The portal's referral figures: the referrals made in the period, by where they stand,
and the points they gave; only the user's merchant's; in a bounded number of queries."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from core.actors import SYSTEM
from loyalty.models import Referral, ReferralTerms
from loyalty.referrals import qualify, services
from tests.loyalty.factories import member_make, order_post
from tests.portals.factories import signed_in

pytestmark = pytest.mark.django_db

URL = reverse("portals:referrals")


def referrals_on(side, *, qualified: int, blocked: int, flagged: int, pending: int) -> None:
    program = side.merchant.programs.get(is_active=True)
    ReferralTerms.objects.create(
        program=program, advocate_points=500, friend_points=250, min_order_total=Decimal("1")
    )
    advocate = side.member
    code = services.referral_code_get_or_create(member=advocate).code
    services.referral_identity_note(member=advocate, device_id="same")

    def refer(**kwargs):
        return services.referral_attach(
            merchant=side.merchant,
            friend=member_make(side.merchant),
            code=code,
            actor=SYSTEM,
            **kwargs,
        )

    for _ in range(qualified):
        referral = refer()
        order_post(side.merchant, referral.friend, "30.00")
    qualify.referrals_qualify(now=timezone.now() + datetime.timedelta(days=31))
    for _ in range(pending):
        refer()
    for _ in range(flagged):
        refer(device_id="same")
    for _ in range(blocked):
        friend = member_make(side.merchant)
        order_post(side.merchant, friend, "5.00")
        services.referral_attach(merchant=side.merchant, friend=friend, code=code, actor=SYSTEM)


def tiles(page: str) -> dict[str, str]:
    found = {}
    for part in page.split('<p class="tile-label">')[1:]:
        label, rest = part.split("</p>", 1)
        value = rest.split('<p class="tile-value">', 1)[1].split("</p>", 1)[0]
        found[label] = value
    return found


def test_the_figures_count_the_merchants_referrals_by_status_and_points(pair):
    a, b = pair
    referrals_on(a, qualified=2, blocked=1, flagged=1, pending=1)
    referrals_on(b, qualified=0, blocked=3, flagged=0, pending=0)

    page = signed_in(a.analyst).get(URL).content.decode()

    assert tiles(page) == {
        "Referrals made": "5",
        "Qualified": "2",
        "Waiting for a first order": "1",
        "In review": "1",
        "Blocked": "1",
        "Rejected or void": "0",
        "Points given": "1,500",
    }
    assert "500 points" in page


def test_referrals_made_before_the_period_are_not_counted(pair):
    a, _ = pair
    referrals_on(a, qualified=0, blocked=0, flagged=0, pending=2)
    Referral.objects.filter(merchant=a.merchant).update(
        created_at=timezone.now() - datetime.timedelta(days=45)
    )

    page = signed_in(a.analyst).get(URL, {"period": "last_30"}).content.decode()

    assert tiles(page)["Referrals made"] == "0"


def test_a_program_without_referrals_says_so(pair):
    a, _ = pair

    page = signed_in(a.owner).get(URL).content.decode()

    assert "Your program takes no referrals yet" in page


def test_the_page_reads_a_bounded_number_of_queries(pair, django_assert_max_num_queries):
    a, _ = pair
    referrals_on(a, qualified=1, blocked=1, flagged=1, pending=1)
    client = signed_in(a.analyst)
    client.get(URL)

    with django_assert_max_num_queries(12):
        assert client.get(URL).status_code == 200
