"""The campaigns a member is offered (``loyalty.selectors.campaigns_for_member``): live,
targeting them, not holding them out, their budget not spent; nobody else's."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import CampaignSpend
from loyalty.program_config import campaign_terms
from loyalty.selectors import campaigns_for_member
from tests.loyalty.campaigns.helpers import campaign_make, segment_with
from tests.loyalty.factories import member_make, program_merchant

pytestmark = pytest.mark.django_db


def offered(merchant, member, now=None) -> list[str]:
    merchant.refresh_from_db()  # its config_version, renewed by every campaign write
    found = campaigns_for_member(merchant=merchant, member=member, now=now or timezone.now())
    return [campaign.name for campaign in found]


def test_a_running_campaign_for_every_member_is_offered_by_priority():
    merchant, program = program_merchant()
    member = member_make(merchant)
    campaign_make(program, name="Later", priority=200)
    campaign_make(
        program,
        name="First",
        priority=10,
        effect="order_bonus",
        bonus_points=50,
        min_order_total=Decimal(20),
    )

    assert offered(merchant, member) == ["First", "Later"]


def test_a_segment_campaign_is_offered_only_to_the_segments_current_members():
    merchant, program = program_merchant()
    fan, stranger, gone = member_make(merchant), member_make(merchant), member_make(merchant)
    segment = segment_with(merchant, fan, gone)
    segment.memberships.filter(member=gone).update(left_at=timezone.now())
    campaign_make(program, name="Fans only", segments=[segment])

    assert offered(merchant, fan) == ["Fans only"]
    assert offered(merchant, stranger) == []
    assert offered(merchant, gone) == []


def test_a_member_of_the_control_group_is_never_told_of_the_campaign():
    merchant, program = program_merchant()
    members = [member_make(merchant) for _ in range(12)]
    campaign = campaign_make(program, name="Test", holdout_percent=Decimal(50))
    terms = campaign_terms(campaign)
    held = [m for m in members if terms.in_holdout(str(m.pk))]
    told = [m for m in members if not terms.in_holdout(str(m.pk))]
    assert held
    assert told

    assert all(offered(merchant, m) == [] for m in held)
    assert all(offered(merchant, m) == ["Test"] for m in told)


@pytest.mark.parametrize("status", ["paused", "ended", "draft"])
def test_a_campaign_not_running_is_not_offered(status):
    merchant, program = program_merchant()
    member = member_make(merchant)
    campaign_make(program, name="Off", status=status)

    assert offered(merchant, member) == []


def test_a_campaign_outside_its_dates_is_not_offered():
    merchant, program = program_merchant()
    member = member_make(merchant)
    now = timezone.now()
    campaign_make(
        program,
        name="Soon",
        status="scheduled",
        starts_at=now + datetime.timedelta(days=2),
        ends_at=now + datetime.timedelta(days=9),
    )
    campaign_make(program, name="Now", ends_at=now + datetime.timedelta(hours=1))

    assert offered(merchant, member, now) == ["Now"]
    assert offered(merchant, member, now + datetime.timedelta(hours=2)) == []
    assert offered(merchant, member, now + datetime.timedelta(days=3)) == ["Soon"]


def test_a_campaign_whose_budget_is_spent_is_not_offered():
    merchant, program = program_merchant()
    member = member_make(merchant)
    spent = campaign_make(program, name="Spent", points_budget=100)
    campaign_make(program, name="Open", points_budget=100)
    CampaignSpend.objects.update_or_create(
        campaign=spent, defaults={"points_given": 100, "exhausted_at": timezone.now()}
    )

    assert offered(merchant, member) == ["Open"]


def test_another_merchants_campaigns_are_not_offered():
    merchant, _program = program_merchant()
    other, other_program = program_merchant()
    member = member_make(merchant)
    campaign_make(other_program, name="Theirs")

    assert offered(merchant, member) == []
    assert offered(other, member) == []  # a stranger there, even by id


def test_offers_read_in_two_queries_at_most(django_assert_max_num_queries):
    merchant, program = program_merchant()
    member = member_make(merchant)
    segment = segment_with(merchant, member)
    for n in range(5):
        campaign_make(program, name=f"C{n}", segments=[segment] if n % 2 else None)
    merchant.refresh_from_db()
    campaigns_for_member(merchant=merchant, member=member, now=timezone.now())  # the cache

    with django_assert_max_num_queries(2):
        found = campaigns_for_member(merchant=merchant, member=member, now=timezone.now())
        assert [c.description for c in found] == [""] * 5
