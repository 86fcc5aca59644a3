"""A catalog reward an achievement unlocks: listed and redeemable only for the members
who completed it, and only one of the merchant's own achievements can unlock it."""

from decimal import Decimal

import pytest

from catalog import services as catalog
from core.actors import SYSTEM
from core.exceptions import DomainError
from tests.catalog.factories import RewardFactory, merchant_with_program, offered, select
from tests.conftest import make_tenant
from tests.loyalty.achievements.helpers import achievement_make
from tests.loyalty.factories import member_make, order_post

pytestmark = pytest.mark.django_db

REWARDS = "/api/v1/rewards/"


def test_a_reward_is_unlocked_for_the_members_who_completed_the_achievement():
    merchant, program = merchant_with_program()
    tenant = make_tenant(merchant)
    achiever = member_make(merchant, "achiever", country="US")
    member_make(merchant, "other", country="US")
    first = achievement_make(program, name="First order", goal=Decimal(1), reward_points=0)
    (item,) = select(merchant, offered(RewardFactory(slug="secret")))
    item.unlocked_by_achievement = first
    catalog.catalog_item_save(item=item, actor=SYSTEM)

    def listed(member):
        return [r["slug"] for r in tenant.client.get(REWARDS, {"member": member}).json()["results"]]

    assert listed("achiever") == []
    order_post(merchant, achiever, "5.00")
    assert listed("achiever") == ["secret"]
    assert listed("other") == []
    assert tenant.client.get(f"{REWARDS}{item.reward_id}/", {"member": "other"}).status_code == 404


def test_another_merchants_achievement_cannot_unlock_a_reward():
    merchant, _ = merchant_with_program()
    _, other_program = merchant_with_program()
    (item,) = select(merchant, offered(RewardFactory(slug="x")))
    item.unlocked_by_achievement = achievement_make(other_program)
    with pytest.raises(DomainError) as refused:
        catalog.catalog_item_save(item=item, actor=SYSTEM)
    assert refused.value.field == "unlocked_by_achievement"
