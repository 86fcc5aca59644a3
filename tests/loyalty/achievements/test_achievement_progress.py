"""Achievements counted on the order path (``loyalty.achievements.services``): once per
order, taken back by a refund before completion, completed and rewarded once, in the
windows the issue names (last N days, calendar streaks across a DST change and a year
boundary), and closed by the nightly job."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from core.actors import Actor
from loyalty.achievements import periods
from loyalty.achievements.selectors import member_achievement_list
from loyalty.models import (
    AchievementCompletion,
    AchievementOccurrence,
    LedgerEntry,
    StreakReset,
)
from loyalty.services import activities
from tests.loyalty.achievements.helpers import achievement_make
from tests.loyalty.factories import (
    assert_ledger_consistent,
    member_make,
    order_post,
    program_merchant,
    refund_post,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def completions(member):
    return list(AchievementCompletion.objects.filter(member=member))


def rewards(member):
    return list(
        LedgerEntry.objects.filter(member=member, source_type=LedgerEntry.Source.ACHIEVEMENT)
    )


def test_the_third_order_completes_once_and_rewards_through_the_ledger():
    merchant, program = program_merchant()
    three = achievement_make(program, reward_points=150)
    member = member_make(merchant)

    first = order_post(merchant, member, "10.00").obj
    assert [(o.achievement_id, o.current, o.completed) for o in first.achievement_outcomes] == [
        (three.pk, 1, False)
    ]
    order_post(merchant, member, "10.00")
    third = order_post(merchant, member, "10.00", external_id="o-third").obj
    (outcome,) = third.achievement_outcomes
    assert outcome.completed
    assert outcome.points == 150
    order_post(merchant, member, "10.00")  # a fourth: once ever

    (done,) = completions(member)
    assert done.period == "ever"
    assert done.source == f"order:{third.pk}"
    assert "o-third" in done.reason
    (entry,) = rewards(member)
    assert entry.points == 150
    assert entry.source_ref == str(three.pk)
    assert done.entry_id == entry.pk
    member = assert_ledger_consistent(member)
    assert member.points_balance == 40 + 150
    assert AchievementOccurrence.objects.filter(completion=done).count() == 3


def test_a_replayed_order_counts_once():
    merchant, program = program_merchant()
    achievement_make(program)
    member = member_make(merchant)
    placed_at = timezone.now()
    for _ in range(3):
        recorded = order_post(merchant, member, "10.00", external_id="same", placed_at=placed_at)
    assert recorded.replayed
    assert AchievementOccurrence.objects.filter(member=member).count() == 1
    (status,) = member_achievement_list(merchant=merchant, member=member, now=timezone.now())
    assert status.progress.current == 1
    assert not completions(member)


def test_a_refund_before_completion_takes_the_order_out_of_the_count():
    merchant, program = program_merchant()
    achievement_make(program)
    member = member_make(merchant)
    order_post(merchant, member, "10.00")
    refunded = order_post(merchant, member, "10.00", external_id="back").obj
    refund_post(merchant, "back", "10.00")
    order_post(merchant, member, "10.00")
    (status,) = member_achievement_list(merchant=merchant, member=member, now=timezone.now())
    assert status.progress.current == 2
    assert AchievementOccurrence.objects.get(source=f"order:{refunded.pk}").reversed_at
    order_post(merchant, member, "10.00")
    assert len(completions(member)) == 1


def test_a_partial_refund_keeps_the_order_counted_but_lowers_its_spend():
    merchant, program = program_merchant()
    spend = achievement_make(program, name="Spend 500", measure="spend", goal=Decimal(500))
    count = achievement_make(program, name="Orders over 100", min_order_total=Decimal(100))
    member = member_make(merchant)
    order = order_post(merchant, member, "300.00", external_id="big").obj
    refund_post(merchant, "big", "150.00")
    occurrences = {
        o.achievement_id: o
        for o in AchievementOccurrence.objects.filter(source=f"order:{order.pk}")
    }
    assert occurrences[spend.pk].amount == Decimal(150)
    assert occurrences[spend.pk].reversed_at is None
    # 150 left is still over the 100 minimum.
    assert occurrences[count.pk].reversed_at is None
    refund_post(merchant, "big", "60.00")
    occurrences[count.pk].refresh_from_db()
    assert occurrences[count.pk].reversed_at is not None  # 90 left: below the minimum


def test_a_refund_after_completion_keeps_what_the_completion_gave():
    merchant, program = program_merchant()
    achievement_make(program, goal=Decimal(1), reward_points=70)
    member = member_make(merchant)
    order_post(merchant, member, "10.00", external_id="only")
    refund_post(merchant, "only", "10.00")
    (done,) = completions(member)
    assert done.points == 70
    assert assert_ledger_consistent(member).points_balance == 70


def test_orders_outside_a_rolling_window_do_not_count():
    merchant, program = program_merchant()
    achievement_make(program, name="Three in 30 days", window="rolling", window_days=30)
    member = member_make(merchant)
    now = timezone.now()
    order_post(merchant, member, "10.00", placed_at=now - 40 * DAY)
    order_post(merchant, member, "10.00", placed_at=now - 20 * DAY)
    order_post(merchant, member, "10.00", placed_at=now - DAY)
    (status,) = member_achievement_list(merchant=merchant, member=member, now=timezone.now())
    assert status.progress.current == 2
    assert status.progress.deadline is not None
    assert not completions(member)
    order_post(merchant, member, "10.00")
    assert len(completions(member)) == 1


def test_a_monthly_streak_across_a_dst_change_and_the_new_year_completes_once():
    merchant, program = program_merchant()
    merchant.timezone = PARIS
    merchant.save(update_fields=["timezone"])
    achievement_make(
        program, name="Three months", window="streak", streak_unit="month", goal=Decimal(3)
    )
    member = member_make(merchant)
    # Paris leaves summer time on 25 October 2026; 31 October 23:30 UTC is already
    # 1 November there, so this order fills November, not October.
    with time_machine.travel(datetime.datetime(2026, 10, 31, 23, 30, tzinfo=datetime.UTC)):
        order_post(merchant, member, "10.00")
    with time_machine.travel(datetime.datetime(2026, 12, 15, 12, tzinfo=datetime.UTC)):
        order_post(merchant, member, "10.00")
        (status,) = member_achievement_list(merchant=merchant, member=member, now=timezone.now())
        assert status.progress.streak == 2
        assert status.progress.deadline == datetime.datetime(2026, 12, 31, 23, tzinfo=datetime.UTC)
    with time_machine.travel(datetime.datetime(2027, 1, 2, 9, tzinfo=datetime.UTC)):
        third = order_post(merchant, member, "10.00").obj
    (done,) = completions(member)
    assert done.source == f"order:{third.pk}"


def test_the_nightly_job_records_a_broken_streak_once_and_it_starts_again():
    merchant, program = program_merchant()
    streak = achievement_make(
        program, name="Weekly", window="streak", streak_unit="week", goal=Decimal(4)
    )
    member = member_make(merchant)
    monday = datetime.datetime(2026, 11, 2, 12, tzinfo=datetime.UTC)
    for week in range(2):
        with time_machine.travel(monday + week * 7 * DAY):
            order_post(merchant, member, "10.00")
    later = monday + 28 * DAY
    assert periods.periods_close(now=later) == 1
    assert periods.periods_close(now=later + DAY) == 0  # run again: nothing more
    (reset,) = StreakReset.objects.filter(member=member, achievement=streak)
    assert reset.length == 2
    assert reset.broken_period == datetime.date(2026, 11, 16)
    with time_machine.travel(later):
        order_post(merchant, member, "10.00")
        (status,) = member_achievement_list(merchant=merchant, member=member, now=timezone.now())
    assert status.progress.streak == 1
    assert status.last_reset == reset


def test_once_a_month_completes_again_in_the_next_month_only():
    merchant, program = program_merchant()
    achievement_make(program, name="Two a month", goal=Decimal(2), repeat="month")
    member = member_make(merchant)
    with time_machine.travel(datetime.datetime(2026, 11, 3, tzinfo=datetime.UTC)):
        for _ in range(4):
            order_post(merchant, member, "10.00")
    assert [c.period for c in completions(member)] == ["2026-11-01"]
    # November's third and fourth orders came after its completion: they count for
    # nothing, and December needs its own two.
    assert AchievementOccurrence.objects.filter(member=member).count() == 2
    with time_machine.travel(datetime.datetime(2026, 12, 3, tzinfo=datetime.UTC)):
        order_post(merchant, member, "10.00")
        assert len(completions(member)) == 1
        order_post(merchant, member, "10.00")
    assert sorted(c.period for c in completions(member)) == ["2026-11-01", "2026-12-01"]


def test_a_first_review_activity_completes_its_achievement():
    merchant, program = program_merchant()
    review = achievement_make(
        program, name="First review", trigger="activity", activity_kind="review", goal=Decimal(1)
    )
    member = member_make(merchant)
    recorded = activities.activity_record(
        merchant=merchant,
        data=activities.ActivityInput(
            external_id="rev-1", member_external_id=member.external_id, kind="review"
        ),
        actor=Actor.system("test"),
    )
    (outcome,) = recorded.obj.achievement_outcomes
    assert outcome.achievement_id == review.pk
    assert outcome.completed
    assert len(rewards(member)) == 1


def test_an_inactive_or_other_merchants_achievement_never_counts():
    merchant, program = program_merchant()
    _other_merchant, other_program = program_merchant()
    achievement_make(program, goal=Decimal(1), is_active=False)
    achievement_make(other_program, goal=Decimal(1))
    member = member_make(merchant)
    order = order_post(merchant, member, "10.00").obj
    assert order.achievement_outcomes == []
    assert not AchievementOccurrence.objects.exists()
