"""Redemptions count toward a redemption achievement once each; a redemption refunded
before completion stops counting."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from fulfillment.models import Redemption
from fulfillment.services import outcomes
from loyalty.models import AchievementCompletion, AchievementOccurrence
from tests.catalog.factories import merchant_with_program
from tests.fulfillment.factories import redemption_pending, sandbox_offer
from tests.loyalty.achievements.helpers import achievement_make
from tests.loyalty.factories import member_make

pytestmark = pytest.mark.django_db


def test_redemptions_count_once_each_and_a_refunded_one_is_taken_back():
    merchant, program = merchant_with_program()
    achievement_make(program, name="Two rewards", trigger="redemption", goal=Decimal(2))
    member = member_make(merchant, country="US", points=10_000)
    offer = sandbox_offer(merchant)
    first = redemption_pending(merchant, member, offer)
    assert AchievementOccurrence.objects.get(member=member).source == f"redemption:{first.pk}"
    with transaction.atomic():
        outcomes.redemption_refund(
            redemption=Redemption.objects.get(pk=first.pk),
            reason="no stock",
            source="sandbox",
            at=timezone.now(),
            actor=Actor.system("dispatch"),
        )
    assert AchievementOccurrence.objects.get(member=member).reversed_at is not None
    redemption_pending(merchant, member, offer)
    assert not AchievementCompletion.objects.exists()
    redemption_pending(merchant, member, offer)
    (completion,) = AchievementCompletion.objects.filter(member=member)
    assert completion.points == 100
