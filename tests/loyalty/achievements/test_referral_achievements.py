"""A qualified referral counts toward the advocate's referral achievements, once, when
the job rewards it."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from core.actors import SYSTEM
from loyalty.models import AchievementCompletion, AchievementOccurrence, ReferralTerms
from loyalty.referrals import qualify
from loyalty.referrals import services as referrals
from tests.loyalty.achievements.helpers import achievement_make
from tests.loyalty.factories import member_make, order_post, program_merchant

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def test_a_qualified_referral_completes_the_advocates_first_referral_achievement():
    merchant, program = program_merchant()
    ReferralTerms.objects.create(program=program, advocate_points=100, pending_days=14)
    first = achievement_make(
        program, name="First friend", trigger="referral", goal=Decimal(1), reward_points=40
    )
    advocate = member_make(merchant)
    code = referrals.referral_code_get_or_create(member=advocate).code
    friend = member_make(merchant)
    referral = referrals.referral_attach(merchant=merchant, friend=friend, code=code, actor=SYSTEM)
    now = timezone.now()
    order_post(merchant, friend, "60.00", placed_at=now)
    qualify.referrals_qualify(now=now)
    assert not AchievementOccurrence.objects.filter(member=advocate).exists()

    qualify.referrals_qualify(now=now + 15 * DAY)
    qualify.referrals_qualify(now=now + 16 * DAY)  # again: nothing more

    (occurrence,) = AchievementOccurrence.objects.filter(member=advocate)
    assert occurrence.source == f"referral:{referral.pk}"
    (completion,) = AchievementCompletion.objects.filter(member=advocate)
    assert completion.achievement == first
    assert completion.points == 40
    assert not AchievementCompletion.objects.filter(member=friend).exists()
