"""The catalog's reads: a member's catalog and its prices as the member sees them."""

from decimal import Decimal

import pytest

from catalog.selectors import catalog_for_member, member_rewards
from loyalty.models import Member, Program
from loyalty.services.members import member_upsert
from tests.catalog.factories import RewardFactory, merchant_with_program, offered, select
from tests.loyalty.factories import points_give

pytestmark = pytest.mark.django_db


def member_with(merchant, points: int = 0) -> Member:
    member, _ = member_upsert(merchant=merchant, external_id="cust-1", fields={"country": "US"})
    if points:
        points_give(member, points)
    return Member.objects.get(pk=member.pk)


def test_member_rewards_prices_each_item_and_says_what_the_balance_affords():
    merchant, program = merchant_with_program()
    member = member_with(merchant, points=2500)
    select(merchant, offered(RewardFactory(denominations=["10", "25", "50"])), price_step=1)

    (reward,) = member_rewards(
        items=catalog_for_member(merchant=merchant, member=member), member=member, program=program
    )

    assert reward.prices == {"10.00": 1000, "25.00": 2500, "50.00": 5000}
    assert (reward.min_points, reward.max_points, reward.affordable) == (1000, 5000, True)
    assert [d["affordable"] for d in reward.denominations] == [True, True, False]
    assert reward.range is None


def test_member_rewards_prices_again_under_a_point_value_changed_since_the_repricing():
    merchant, program = merchant_with_program()
    member = member_with(merchant)
    (item,) = select(merchant, offered(RewardFactory(denominations=["10"])), price_step=1)
    Program.objects.filter(pk=program.pk).update(point_value=Decimal("0.02"))
    program.refresh_from_db()

    (reward,) = member_rewards(
        items=catalog_for_member(merchant=merchant, member=member), member=member, program=program
    )

    assert reward.prices == {"10.00": 500}
    assert reward.affordable is False
    item.refresh_from_db()
    assert item.prices == {"10.00": 1000}  # a read: nothing saved


def test_another_merchants_catalog_items_are_invisible():
    merchant, _ = merchant_with_program()
    other, _ = merchant_with_program()
    reward = offered(RewardFactory(denominations=["10"]))
    select(other, reward)
    member = member_with(merchant)

    assert not catalog_for_member(merchant=merchant, member=member).exists()
    assert catalog_for_member(merchant=other, member=member_with(other)).exists()
