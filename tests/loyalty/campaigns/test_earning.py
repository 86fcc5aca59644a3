"""Campaigns on the order and activity paths: what they give, to whom, and the explanation."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from core.actors import Actor
from loyalty.campaigns.services import coupon_codes_add
from loyalty.models import CampaignAward, CampaignCoupon, Order
from loyalty.rules import holdout_bucket
from loyalty.services import activities, orders
from tests.loyalty.campaigns.helpers import campaign_make, segment_with, spent
from tests.loyalty.factories import member_make, order_post, program_merchant

pytestmark = pytest.mark.django_db


def campaign_parts(order: Order) -> list[tuple[int, str]]:
    return [
        (part["campaign_id"], part["points"]) for part in order.explanation if part["campaign_id"]
    ]


def test_a_running_multiplier_doubles_base_points_and_the_explanation_names_it():
    merchant, program = program_merchant()
    campaign = campaign_make(program, name="Double days")
    member = member_make(merchant)

    order = order_post(merchant, member, "40.00").obj

    assert order.points_earned == 80
    assert campaign_parts(order) == [(campaign.pk, "40")]
    assert any(part["label"] == "Campaign Double days" for part in order.explanation)
    assert spent(campaign) == 40
    award = CampaignAward.objects.get(campaign=campaign)
    assert (award.member_id, award.order_id, award.points) == (member.pk, order.pk, 40)


@pytest.mark.parametrize("status", ["draft", "paused", "ended"])
def test_a_campaign_that_is_not_running_gives_nothing(status):
    merchant, program = program_merchant()
    campaign_make(program, status=status)

    order = order_post(merchant, member_make(merchant), "40.00").obj

    assert order.points_earned == 40


def test_a_campaign_gives_only_to_orders_placed_within_its_dates():
    merchant, program = program_merchant()
    now = timezone.now()
    campaign_make(
        program,
        starts_at=now - datetime.timedelta(hours=2),
        ends_at=now + datetime.timedelta(days=1),
    )
    member = member_make(merchant)

    before = order_post(merchant, member, "10.00", placed_at=now - datetime.timedelta(hours=3)).obj
    within = order_post(merchant, member, "10.00", placed_at=now - datetime.timedelta(hours=1)).obj

    assert (before.points_earned, within.points_earned) == (10, 20)


def test_a_segment_campaign_gives_only_to_the_segments_members():
    merchant, program = program_merchant()
    fan, other = member_make(merchant), member_make(merchant)
    segment = segment_with(merchant, fan)
    campaign_make(program, segments=[segment])

    assert order_post(merchant, fan, "10.00").obj.points_earned == 20
    assert order_post(merchant, other, "10.00").obj.points_earned == 10


def test_the_control_group_is_targeted_but_gets_nothing():
    merchant, program = program_merchant()
    campaign = campaign_make(program, holdout_percent=Decimal(50))
    members = [member_make(merchant) for _ in range(40)]

    earned = {m.pk: order_post(merchant, m, "10.00").obj.points_earned for m in members}

    control = {m.pk for m in members if holdout_bucket(campaign.pk, str(m.pk)) < 5000}
    assert control
    assert len(control) < 40
    assert all(earned[pk] == 10 for pk in control)
    assert all(earned[pk] == 20 for pk in earned if pk not in control)


def test_per_unit_on_categories_counts_only_the_matching_lines():
    merchant, program = program_merchant()
    campaign_make(
        program, effect="per_unit", points_per_unit=Decimal(3), include_categories=["camping"]
    )
    member = member_make(merchant)

    recorded = orders.order_record(
        merchant=merchant,
        data=orders.OrderInput(
            external_id="o-lines",
            member_external_id=member.external_id,
            total=Decimal("50.00"),
            currency="USD",
            placed_at=timezone.now(),
            lines=(
                orders.LineInput("TENT", "camping", 1, Decimal("30.00")),
                orders.LineInput("MUG", "kitchen", 2, Decimal("10.00")),
            ),
        ),
        actor=Actor.system("test"),
    )

    assert recorded.obj.points_earned == 50 + 90


def test_an_order_bonus_needs_the_minimum():
    merchant, program = program_merchant()
    campaign_make(program, effect="order_bonus", bonus_points=100, min_order_total=Decimal(50))
    member = member_make(merchant)

    assert order_post(merchant, member, "49.99").obj.points_earned == 49
    assert order_post(merchant, member, "50.00").obj.points_earned == 150


def test_an_activity_bonus_campaign_gives_on_its_kind_only():
    merchant, program = program_merchant()
    campaign = campaign_make(
        program, effect="activity_bonus", bonus_points=25, activity_kind="review"
    )
    member = member_make(merchant)

    def activity(kind, external_id):
        return activities.activity_record(
            merchant=merchant,
            data=activities.ActivityInput(
                external_id=external_id, member_external_id=member.external_id, kind=kind
            ),
            actor=Actor.system("test"),
        ).obj

    assert activity("review", "a-1").points_earned == 25
    assert activity("birthday", "a-2").points_earned == 0
    assert spent(campaign) == 25


@pytest.mark.parametrize(
    ("cap_period", "cap_count", "expected"),
    [
        ("ever", 1, [20, 10, 10]),
        ("ever", 2, [20, 20, 10]),
        ("day", 1, [20, 10, 10]),
        ("month", 2, [20, 20, 10]),
    ],
)
def test_caps_per_member(cap_period, cap_count, expected):
    merchant, program = program_merchant()
    campaign_make(program, cap_period=cap_period, cap_count=cap_count)
    member = member_make(merchant)

    earned = [order_post(merchant, member, "10.00").obj.points_earned for _ in range(3)]

    assert earned == expected
    assert order_post(merchant, member_make(merchant), "10.00").obj.points_earned == 20


def test_a_daily_cap_opens_again_the_next_local_day():
    merchant, program = program_merchant()
    merchant.timezone = "America/New_York"
    merchant.save(update_fields=["timezone"])
    campaign_make(program, cap_period="day", starts_at=timezone.now() - datetime.timedelta(days=5))
    member = member_make(merchant)
    now = timezone.now()

    first = order_post(merchant, member, "10.00", placed_at=now - datetime.timedelta(days=2)).obj
    second = order_post(
        merchant, member, "10.00", placed_at=now - datetime.timedelta(days=2, minutes=-1)
    ).obj
    next_day = order_post(merchant, member, "10.00", placed_at=now - datetime.timedelta(days=1)).obj

    assert [first.points_earned, second.points_earned, next_day.points_earned] == [20, 10, 20]


def test_the_budget_is_never_overspent_and_the_last_order_gets_what_is_left(
    django_capture_on_commit_callbacks, mailoutbox
):
    merchant, program = program_merchant()
    campaign = campaign_make(program, points_budget=25)
    member = member_make(merchant)
    marketer = User.objects.create_user("mk", "mk@provider.test", is_staff=True)
    marketer.groups.add(Group.objects.get_or_create(name="Marketing")[0])

    with django_capture_on_commit_callbacks(execute=True):
        earned = [order_post(merchant, member, "10.00").obj.points_earned for _ in range(4)]

    assert earned == [20, 20, 15, 10]
    assert spent(campaign) == 25
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    assert campaign.events.last().reason == "its budget of 25 points is spent"
    assert [mail.to for mail in mailoutbox] == [["mk@provider.test"]]
    assert "budget spent" in mailoutbox[0].subject


def test_stackable_campaigns_add_up():
    merchant, program = program_merchant()
    campaign_make(program, name="A")
    campaign_make(
        program, name="B", effect="order_bonus", bonus_points=5, min_order_total=Decimal(1)
    )

    assert order_post(merchant, member_make(merchant), "10.00").obj.points_earned == 10 + 10 + 5


def test_an_exclusive_campaign_applies_alone_the_first_by_priority():
    merchant, program = program_merchant()
    campaign_make(program, name="Stack")
    low = campaign_make(
        program, name="Low", stacking="exclusive", priority=50, multiplier=Decimal(3)
    )
    campaign_make(program, name="High", stacking="exclusive", priority=10, multiplier=Decimal(4))

    order = order_post(merchant, member_make(merchant), "10.00").obj

    assert order.points_earned == 10 + 30
    assert [label for label in (p["label"] for p in order.explanation) if "Campaign" in label] == [
        "Campaign High"
    ]
    assert low.pk not in [p["campaign_id"] for p in order.explanation]


def test_best_for_member_gives_only_the_one_that_gives_most():
    merchant, program = program_merchant()
    campaign_make(
        program, name="Stack", effect="order_bonus", bonus_points=1, min_order_total=Decimal(1)
    )
    campaign_make(
        program,
        name="Bonus",
        stacking="best",
        effect="order_bonus",
        bonus_points=15,
        min_order_total=Decimal(1),
    )
    campaign_make(program, name="Triple", stacking="best", multiplier=Decimal(3))

    small = order_post(merchant, member_make(merchant), "5.00").obj
    large = order_post(merchant, member_make(merchant), "50.00").obj

    assert small.points_earned == 5 + 1 + 15
    assert large.points_earned == 50 + 1 + 100


def test_a_coupon_is_handed_once_per_member_until_the_pool_is_empty():
    merchant, program = program_merchant()
    campaign = campaign_make(program, effect="coupon", min_order_total=Decimal(20))
    coupon_codes_add(campaign=campaign, codes=["SPRING-1", "SPRING-2", " ", "SPRING-1"])
    first, second, third = member_make(merchant), member_make(merchant), member_make(merchant)

    small = order_post(merchant, first, "10.00").obj
    one = order_post(merchant, first, "30.00").obj
    again = order_post(merchant, first, "30.00").obj
    two = order_post(merchant, second, "30.00").obj
    none_left = order_post(merchant, third, "30.00").obj

    def codes(order):
        return [p["label"] for p in order.explanation if p["campaign_id"]]

    assert codes(small) == []
    assert codes(one) == ["Campaign C: coupon SPRING-1"]
    assert codes(again) == []
    assert codes(two) == ["Campaign C: coupon SPRING-2"]
    assert codes(none_left) == []
    assert dict(CampaignCoupon.objects.values_list("code", "member_id")) == {
        "SPRING-1": first.pk,
        "SPRING-2": second.pk,
    }
    assert one.points_earned == 30


def test_a_campaign_never_changes_points_already_earned():
    merchant, program = program_merchant()
    member = member_make(merchant)
    before = order_post(merchant, member, "10.00").obj
    campaign_make(program)

    before.refresh_from_db()
    member.refresh_from_db()
    assert before.points_earned == 10
    assert member.lifetime_points == 10
