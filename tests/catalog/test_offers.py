"""The offers fulfillment tries, cheapest first."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.selectors import offers_for_delivery
from tests.catalog.factories import OfferFactory, RewardFactory, SupplierFactory, rate

pytestmark = pytest.mark.django_db


def test_available_offers_come_cheapest_first_with_costs_in_one_currency():
    reward = RewardFactory(countries=["US", "FR"], denominations=["50"])
    rate("EUR", "USD", "1.10")
    # 50 x 0.95 = 47.50
    five_off = OfferFactory(reward=reward, discount_percent=Decimal(5), preference=5)
    # 50 x 0.97 + 1 EUR (1.10 USD) = 49.60
    fee_in_euros = OfferFactory(
        reward=reward, discount_percent=Decimal(3), fee=Decimal(1), cost_currency="EUR"
    )
    # 50 x 0.96 = 48.00
    four_off = OfferFactory(reward=reward, discount_percent=Decimal(4), preference=1)
    # the same cost as five_off, but a later preference
    five_off_later = OfferFactory(reward=reward, discount_percent=Decimal(5), preference=9)
    OfferFactory(reward=reward, discount_percent=Decimal(10), stock=0)  # sold out
    OfferFactory(reward=reward, discount_percent=Decimal(10), is_active=False)
    OfferFactory(
        reward=reward, discount_percent=Decimal(10), supplier=SupplierFactory(is_active=False)
    )
    OfferFactory(reward=reward, discount_percent=Decimal(20), country="FR")  # elsewhere
    no_rate = OfferFactory(reward=reward, fee=Decimal(1), cost_currency="SEK")

    offers = offers_for_delivery(
        reward=reward, country="US", face_value=Decimal(50), at=timezone.now()
    )

    assert offers == [five_off, five_off_later, four_off, fee_in_euros, no_rate]


def test_rates_are_those_known_at_the_time_given():
    reward = RewardFactory(denominations=["10"])
    old = timezone.now() - datetime.timedelta(days=10)
    rate("EUR", "USD", "2.00", as_of=old)
    rate("EUR", "USD", "0.50")
    in_euros = OfferFactory(reward=reward, fee=Decimal(1), cost_currency="EUR")
    in_dollars = OfferFactory(reward=reward, fee=Decimal("1.50"))
    now = offers_for_delivery(
        reward=reward, country="US", face_value=Decimal(10), at=timezone.now()
    )
    then = offers_for_delivery(
        reward=reward, country="US", face_value=Decimal(10), at=old + datetime.timedelta(hours=1)
    )
    assert now == [in_euros, in_dollars]
    assert then == [in_dollars, in_euros]
