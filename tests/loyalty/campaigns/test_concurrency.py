"""Campaigns under real concurrency (PostgreSQL row locks): orders released together by a
barrier never take more than a campaign's budget, a member's cap or its coupon pool, every
order's ledger stays whole, and an order that keeps losing the race for a budget is still
recorded. And once a budget is used up, ops hear of it (that one on any database)."""

import threading
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty import earning
from loyalty.campaigns.services import campaigns_advance, coupon_codes_add
from loyalty.models import (
    Campaign,
    CampaignAward,
    CampaignCoupon,
    CampaignEvent,
    CampaignSpend,
    Order,
)
from tests.loyalty.campaigns.helpers import campaign_make
from tests.loyalty.factories import (
    assert_ledger_consistent,
    member_make,
    order_post,
    program_merchant,
)
from tests.loyalty.test_ledger_concurrency import errors, oks, run_together

WAIT = 10  # seconds: a step of a choreographed race that takes longer is stuck

# Threads commit their own transactions: the test's rows must be committed for them to see.
concurrent = pytest.mark.django_db(transaction=True)


def campaign_points(order: Order, campaign: Campaign) -> int:
    """What ``campaign`` gave ``order``, by its explanation (0 when it gave nothing)."""
    parts = [part for part in order.explanation if part["campaign_id"] == campaign.pk]
    assert len(parts) <= 1, order.explanation
    return int(Decimal(parts[0]["points"])) if parts else 0


def bonus_campaign(program, **terms) -> Campaign:
    return campaign_make(
        program,
        name="Bonus",
        effect="order_bonus",
        bonus_points=10,
        min_order_total=Decimal(1),
        **terms,
    )


@pytest.mark.postgres
@concurrent
def test_concurrent_orders_never_take_more_than_the_budget_and_use_it_all():
    merchant, program = program_merchant()
    campaign = bonus_campaign(program, points_budget=95)
    members = [member_make(merchant) for _ in range(16)]

    results = run_together(16, lambda i: order_post(merchant, members[i], "20.00").obj)

    assert not errors(results), errors(results)
    orders = oks(results)
    given = sorted(campaign_points(order, campaign) for order in orders)
    assert given == [0] * 6 + [5] + [10] * 9
    spend = CampaignSpend.objects.get(campaign=campaign)
    assert (spend.points_given, spend.awards) == (95, 10)
    awards = CampaignAward.objects.filter(campaign=campaign)
    assert sorted(awards.values_list("points", flat=True)) == [5] + [10] * 9
    assert {award.order_id: award.points for award in awards} == {
        order.pk: campaign_points(order, campaign)
        for order in orders
        if campaign_points(order, campaign)
    }
    for order in orders:
        assert order.points_earned == 20 + campaign_points(order, campaign)
        member = assert_ledger_consistent(order.member)
        assert member.lifetime_points == order.points_earned
    # The order that took the last points told ops, once: the campaign is paused.
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    assert CampaignSpend.objects.get(campaign=campaign).exhausted_at is not None
    assert CampaignEvent.objects.filter(campaign=campaign, to_status="paused").count() == 1


@pytest.mark.postgres
@concurrent
def test_concurrent_orders_of_one_member_get_a_campaign_capped_once_only_once():
    merchant, program = program_merchant()
    campaign = bonus_campaign(program, cap_period="ever", cap_count=1)
    member = member_make(merchant)

    results = run_together(8, lambda i: order_post(merchant, member, "20.00").obj)

    assert not errors(results), errors(results)
    orders = oks(results)
    assert len({order.pk for order in orders}) == 8
    assert sorted(campaign_points(order, campaign) for order in orders) == [0] * 7 + [10]
    award = CampaignAward.objects.get(campaign=campaign)
    assert (award.member_id, award.points) == (member.pk, 10)
    spend = CampaignSpend.objects.get(campaign=campaign)
    assert (spend.points_given, spend.awards) == (10, 1)
    member = assert_ledger_consistent(member)
    assert member.lifetime_points == sum(order.points_earned for order in orders) == 8 * 20 + 10


@pytest.mark.postgres
@concurrent
def test_concurrent_orders_hand_each_coupon_code_once_to_one_member_each():
    merchant, program = program_merchant()
    campaign = campaign_make(program, name="Spring", effect="coupon", min_order_total=Decimal(1))
    codes = [f"SPRING-{n}" for n in range(5)]
    coupon_codes_add(campaign=campaign, codes=codes)
    members = [member_make(merchant) for _ in range(12)]

    results = run_together(12, lambda i: order_post(merchant, members[i], "20.00").obj)

    assert not errors(results), errors(results)
    orders = oks(results)
    handed = dict(
        CampaignCoupon.objects.filter(campaign=campaign, member__isnull=False).values_list(
            "member_id", "code"
        )
    )
    assert sorted(handed.values()) == codes
    assert len(handed) == 5
    labels = {
        order.member_id: part["label"]
        for order in orders
        for part in order.explanation
        if part["campaign_id"] == campaign.pk
    }
    assert labels == {
        member_id: f"Campaign Spring: coupon {code}" for member_id, code in handed.items()
    }
    awards = CampaignAward.objects.filter(campaign=campaign)
    assert sorted(awards.values_list("member_id", flat=True)) == sorted(handed)
    assert set(awards.values_list("points", flat=True)) == {0}
    for order in orders:
        assert order.points_earned == 20
        assert assert_ledger_consistent(order.member).lifetime_points == 20


@pytest.mark.django_db
def test_a_budget_an_order_used_up_exactly_is_found_by_the_scheduler(
    django_capture_on_commit_callbacks,
):
    merchant, program = program_merchant()
    campaign = bonus_campaign(program, points_budget=20)
    member = member_make(merchant)

    with django_capture_on_commit_callbacks(execute=True):
        earned = [order_post(merchant, member, "20.00").obj.points_earned for _ in range(2)]

    assert earned == [30, 30]
    assert CampaignSpend.objects.get(campaign=campaign).points_given == 20
    # The orders took all of it without a refusal: the scheduler's next run finds it.
    assert campaigns_advance(now=timezone.now())["budget_spent"] == 1
    campaign.refresh_from_db()
    assert CampaignSpend.objects.get(campaign=campaign).exhausted_at is not None
    assert campaign.status == "paused"


@pytest.mark.postgres
@concurrent
def test_an_order_is_recorded_however_often_other_orders_take_the_budget_first(monkeypatch):
    merchant, program = program_merchant()
    campaign = campaign_make(
        program, name="Per unit", effect="per_unit", points_per_unit=Decimal(1), points_budget=100
    )
    member = member_make(merchant)
    order_post(merchant, member_make(merchant), "60.00")
    others = iter([("15.00", member_make(merchant)), ("10.00", member_make(merchant))])
    victim: list[int] = []
    real_member_facts = earning.member_facts

    def member_facts(**kwargs):
        facts = real_member_facts(**kwargs)
        # Each time this order has looked at the budget again, another member's order takes
        # from it and commits before this order's take: what a busy campaign meets by chance.
        if kwargs.get("campaigns") and threading.get_ident() in victim:
            total, other = next(others, (None, None))
            if other is None:
                return facts
            thread = threading.Thread(
                target=lambda: run_together(1, lambda i: order_post(merchant, other, total))
            )
            thread.start()
            thread.join(WAIT)
        return facts

    monkeypatch.setattr(earning, "member_facts", member_facts)

    def work(i: int):
        victim.append(threading.get_ident())
        return order_post(merchant, member, "50.00").obj

    results = run_together(1, work)

    assert not errors(results), errors(results)
    (order,) = oks(results)
    got = campaign_points(order, campaign)
    assert got > 0
    assert CampaignSpend.objects.get(campaign=campaign).points_given <= 100
    assert CampaignAward.objects.get(campaign=campaign, order=order).points == got
    assert assert_ledger_consistent(member).lifetime_points == 50 + got
