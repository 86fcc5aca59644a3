"""Who a campaign or a segment-bound rule or reward is for: segments, the control group
drawn by hash, and catalog rewards a segment or a campaign opens."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from catalog import services as catalog
from core.actors import SYSTEM
from core.exceptions import DomainError
from loyalty.campaigns.services import campaign_transition, campaigns_advance, coupon_codes_add
from loyalty.models import EarningRule
from loyalty.rules import HOLDOUT_BUCKETS, CampaignTerms, MemberFacts, holdout_bucket
from tests.catalog.factories import RewardFactory, merchant_with_program, offered, select
from tests.conftest import make_tenant
from tests.loyalty.apihelpers import program_for
from tests.loyalty.campaigns.helpers import campaign_make, segment_with
from tests.loyalty.factories import member_make, order_post, program_merchant

REWARDS = "/api/v1/rewards/"


@pytest.mark.parametrize("percent", [Decimal(10), Decimal("25.5"), Decimal(50)])
def test_the_control_group_is_stable_and_near_its_share_over_10000_members(percent):
    campaign = CampaignTerms(id=42, holdout_percent=percent)
    keys = [str(member_id) for member_id in range(1, 10_001)]

    first = [campaign.in_holdout(key) for key in keys]
    again = [campaign.in_holdout(key) for key in keys]

    assert first == again
    share = sum(first) / len(keys) * 100
    # Binomial: 3 standard deviations of a share of 10,000 draws is under 1.5 points.
    assert abs(share - float(percent)) < 1.5, share


def test_each_campaign_draws_its_own_control_group():
    keys = [str(member_id) for member_id in range(1, 2001)]
    one = {key for key in keys if CampaignTerms(id=1, holdout_percent=Decimal(20)).in_holdout(key)}
    two = {key for key in keys if CampaignTerms(id=2, holdout_percent=Decimal(20)).in_holdout(key)}

    # Independent draws of 20% overlap on about 4% of members, not on all of them.
    assert 40 < len(one & two) < 130
    assert all(0 <= holdout_bucket(7, key) < HOLDOUT_BUCKETS for key in keys)


def test_a_hypothetical_member_is_never_in_a_control_group():
    campaign = CampaignTerms(id=3, holdout_percent=Decimal(50))

    assert campaign.in_holdout(MemberFacts().member_key) is False


@pytest.mark.django_db
def test_a_segment_bound_rule_gives_only_to_the_segments_members():
    merchant, program = program_merchant()
    fan, other = member_make(merchant), member_make(merchant)
    segment = segment_with(merchant, fan)
    EarningRule.objects.create(
        program=program, name="Fans", kind="purchase_bonus", bonus_points=7, segment=segment
    )

    assert order_post(merchant, fan, "10.00").obj.points_earned == 17
    assert order_post(merchant, other, "10.00").obj.points_earned == 10


@pytest.mark.django_db
def test_a_rule_cannot_name_another_merchants_segment():
    _, program = program_merchant()
    other, _ = program_merchant()
    rule = EarningRule(
        program=program,
        name="Theirs",
        kind="purchase_bonus",
        bonus_points=7,
        segment=segment_with(other),
    )

    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert "segment" in error.value.message_dict


@pytest.mark.django_db
def test_a_segment_audience_shows_the_reward_to_its_members_only():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    fan = member_make(merchant, "fan", country="US")
    member_make(merchant, "other", country="US")
    (item,) = select(merchant, offered(RewardFactory(slug="vip")))
    item.audience_segment = segment_with(merchant, fan)
    catalog.catalog_item_save(item=item, actor=SYSTEM)

    def listed(member):
        response = tenant.client.get(REWARDS, {"member": member})
        assert response.status_code == 200, response.content
        return [reward["slug"] for reward in response.json()["results"]]

    assert listed("fan") == ["vip"]
    assert listed("other") == []
    assert tenant.client.get(f"{REWARDS}{item.reward_id}/", {"member": "other"}).status_code == 404


@pytest.mark.django_db
def test_a_campaign_unlocks_a_reward_for_its_targets_while_it_runs():
    merchant, program = merchant_with_program()
    tenant = make_tenant(merchant)
    fan = member_make(merchant, "fan", country="US")
    member_make(merchant, "other", country="US")
    campaign = campaign_make(
        program, effect="unlock_reward", segments=[segment_with(merchant, fan)]
    )
    (item,) = select(merchant, offered(RewardFactory(slug="secret")))
    item.unlocked_by = campaign
    catalog.catalog_item_save(item=item, actor=SYSTEM)

    def listed(member):
        return [r["slug"] for r in tenant.client.get(REWARDS, {"member": member}).json()["results"]]

    assert listed("fan") == ["secret"]
    assert listed("other") == []
    campaign_transition(campaign=campaign, to_status="paused", reason="test", actor=SYSTEM)
    assert listed("fan") == []


@pytest.mark.django_db
def test_a_catalog_item_refuses_another_merchants_segment_or_campaign():
    merchant, _ = merchant_with_program()
    other, other_program = merchant_with_program()
    (item,) = select(merchant, offered(RewardFactory(slug="x")))

    item.audience_segment = segment_with(other)
    with pytest.raises(DomainError):
        catalog.catalog_item_save(item=item, actor=SYSTEM)
    item.audience_segment = None
    item.unlocked_by = campaign_make(other_program, effect="unlock_reward")
    with pytest.raises(DomainError):
        catalog.catalog_item_save(item=item, actor=SYSTEM)


@pytest.mark.django_db
def test_the_scheduler_starts_and_ends_campaigns_with_events():
    _, program = program_merchant()
    now = timezone.now()
    starting = campaign_make(
        program, name="Starting", status="scheduled", starts_at=now - datetime.timedelta(minutes=1)
    )
    later = campaign_make(
        program, name="Later", status="scheduled", starts_at=now + datetime.timedelta(hours=1)
    )
    ending = campaign_make(
        program,
        name="Ending",
        starts_at=now - datetime.timedelta(days=2),
        ends_at=now + datetime.timedelta(minutes=1),
    )
    then = now + datetime.timedelta(minutes=2)

    assert campaigns_advance(now=then) == {"started": 1, "ended": 1, "budget_spent": 0}
    assert campaigns_advance(now=then) == {"started": 0, "ended": 0, "budget_spent": 0}

    for campaign in (starting, later, ending):
        campaign.refresh_from_db()
    assert (starting.status, later.status, ending.status) == ("running", "scheduled", "ended")
    last = ending.events.last()
    assert (last.from_status, last.to_status, last.reason, last.actor_label) == (
        "running",
        "ended",
        "its end passed",
        "scheduler",
    )


@pytest.mark.django_db
def test_a_member_reads_their_coupons_and_another_merchants_member_is_a_404(tenant_pair):
    program = program_for(tenant_pair.a.merchant)
    program_for(tenant_pair.b.merchant)
    campaign = campaign_make(program, effect="coupon", min_order_total=Decimal(1))
    coupon_codes_add(campaign=campaign, codes=["WELCOME-1"])
    member = member_make(tenant_pair.a.merchant, "cust-1")
    order_post(tenant_pair.a.merchant, member, "10.00")
    member_make(tenant_pair.b.merchant, "theirs")

    response = tenant_pair.a.client.get("/api/v1/members/cust-1/coupons/")

    assert response.status_code == 200
    (coupon,) = response.json()["results"]
    assert (coupon["code"], coupon["campaign_id"], coupon["campaign"]) == (
        "WELCOME-1",
        campaign.pk,
        "C",
    )
    assert tenant_pair.a.client.get("/api/v1/members/theirs/coupons/").status_code == 404
    assert tenant_pair.b.client.get("/api/v1/members/cust-1/coupons/").status_code == 404
