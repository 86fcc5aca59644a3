"""Referrals under real concurrency (PostgreSQL row locks, SKIP LOCKED): several workers
run the qualifying job at once and each referral still rewards both sides exactly once;
the same friend attached by concurrent requests is referred once."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from core.actors import SYSTEM
from loyalty.models import LedgerEntry, Referral, ReferralStatus, ReferralTerms
from loyalty.referrals import qualify, services
from tests.loyalty.factories import (
    assert_ledger_consistent,
    member_make,
    order_post,
    program_merchant,
)
from tests.loyalty.test_ledger_concurrency import errors, oks, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 6


def shop_with_due_referrals(count: int):
    merchant, program = program_merchant()
    ReferralTerms.objects.create(
        program=program,
        advocate_points=500,
        friend_points=250,
        min_order_total=Decimal("10"),
        pending_days=30,
    )
    advocate = member_make(merchant)
    code = services.referral_code_get_or_create(member=advocate).code
    friends = []
    for _ in range(count):
        friend = member_make(merchant)
        services.referral_attach(merchant=merchant, friend=friend, code=code, actor=SYSTEM)
        order_post(merchant, friend, "40.00")
        friends.append(friend)
    return merchant, advocate, friends


def test_concurrent_job_runs_reward_each_referral_exactly_once():
    _, advocate, friends = shop_with_due_referrals(3)
    later = timezone.now() + datetime.timedelta(days=31)

    results = run_together(WORKERS, lambda _: qualify.referrals_qualify(now=later, batch_size=2))

    assert errors(results) == []
    assert sum(result.qualified for result in oks(results)) == 3
    assert set(Referral.objects.values_list("status", flat=True)) == {ReferralStatus.QUALIFIED}
    entries = LedgerEntry.objects.filter(source_type=LedgerEntry.Source.REFERRAL)
    assert entries.filter(member=advocate).count() == 3
    assert sorted(entries.exclude(member=advocate).values_list("member_id", flat=True)) == sorted(
        friend.pk for friend in friends
    )
    advocate = assert_ledger_consistent(advocate)
    assert advocate.points_balance == 1500
    for friend in friends:
        assert assert_ledger_consistent(friend).points_balance == 40 + 250


def test_concurrent_attaches_of_one_friend_make_one_referral():
    merchant, program = program_merchant()
    ReferralTerms.objects.create(program=program, advocate_points=1, friend_points=1)
    codes = [
        services.referral_code_get_or_create(member=member_make(merchant)).code for _ in range(3)
    ]
    friend = member_make(merchant)

    results = run_together(
        WORKERS,
        lambda i: (
            services.referral_attach(
                merchant=merchant, friend=friend, code=codes[i % 3], actor=SYSTEM
            ).pk
        ),
    )

    assert errors(results) == []
    assert len(set(oks(results))) == 1
    assert Referral.objects.filter(friend=friend).count() == 1
