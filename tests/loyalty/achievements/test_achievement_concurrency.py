"""Eight orders of one member at once, the third of which reaches the goal: the
achievement is completed and rewarded exactly once (PostgreSQL's row locks)."""

from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import AchievementCompletion, AchievementOccurrence, LedgerEntry, Order
from tests.loyalty.achievements.helpers import achievement_make
from tests.loyalty.factories import assert_ledger_consistent, member_make, order_post
from tests.loyalty.factories import program_merchant as make_program
from tests.loyalty.test_ledger_concurrency import errors, oks, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDERS = 8


def test_eight_concurrent_orders_complete_and_reward_once():
    merchant, program = make_program()
    achievement = achievement_make(program, goal=Decimal(3), reward_points=500)
    member = member_make(merchant)

    results = run_together(ORDERS, lambda i: order_post(merchant, member, "10.00"))

    assert not errors(results), errors(results)
    assert len(oks(results)) == ORDERS == Order.objects.filter(member=member).count()
    (completion,) = AchievementCompletion.objects.filter(member=member, achievement=achievement)
    rewards = LedgerEntry.objects.filter(member=member, source_type=LedgerEntry.Source.ACHIEVEMENT)
    assert [entry.points for entry in rewards] == [500]
    # Three occurrences made it, the five after it were not even counted (once ever).
    assert AchievementOccurrence.objects.filter(completion=completion).count() == 3
    assert AchievementOccurrence.objects.filter(member=member).count() == 3
    completed_by = [
        outcome
        for recorded in oks(results)
        for outcome in recorded.obj.achievement_outcomes
        if outcome.completed
    ]
    assert len(completed_by) == 1
    assert assert_ledger_consistent(member).points_balance == 80 + 500


def test_eight_concurrent_replays_of_one_order_count_it_once():
    merchant, program = make_program()
    achievement_make(program, goal=Decimal(2))
    member = member_make(merchant)

    at = timezone.now()
    results = run_together(
        ORDERS, lambda i: order_post(merchant, member, "10.00", external_id="x", placed_at=at)
    )

    assert not errors(results), errors(results)
    assert AchievementOccurrence.objects.filter(member=member).count() == 1
    assert not AchievementCompletion.objects.exists()
