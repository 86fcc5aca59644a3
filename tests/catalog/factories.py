"""Builders for catalog tests: brands, suppliers, rewards (saved through ``reward_save``,
so they are valid), offers, rates and merchants with a program and a catalog."""

import datetime
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from catalog import services
from catalog.models import (
    Brand,
    Category,
    MerchantCatalogItem,
    Reward,
    RewardStatus,
    RewardType,
    Supplier,
    SupplierKind,
    SupplierOffer,
)
from core.actors import SYSTEM
from loyalty.models import ExchangeRate, Program
from loyalty.services.programs import program_configure
from merchants.models import Merchant
from tests.merchants.factories import MerchantFactory


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")
    description = "A brand."
    terms = "Terms apply."


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier

    name = factory.Sequence(lambda n: f"Supplier {n}")
    slug = factory.Sequence(lambda n: f"supplier-{n}")
    kind = SupplierKind.AGGREGATOR
    adapter = "sandbox"
    invoice_currency = "USD"


class RewardFactory(factory.django.DjangoModelFactory):
    """An active gift card in the US, 10/25/50 USD, unless told otherwise."""

    class Meta:
        model = Reward

    brand = factory.SubFactory(BrandFactory)
    type = RewardType.GIFT_CARD
    slug = factory.Sequence(lambda n: f"reward-{n}")
    name = factory.Sequence(lambda n: f"Reward {n}")
    countries = ["US"]
    face_currency = "USD"
    denomination_kind = "fixed"
    denominations = ["10", "25", "50"]
    recipient_fields = ["email"]
    status = RewardStatus.ACTIVE

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.reward_save(reward=model_class(*args, **kwargs), actor=SYSTEM)


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupplierOffer

    reward = factory.SubFactory(RewardFactory)
    supplier = factory.SubFactory(SupplierFactory)
    supplier_sku = factory.Sequence(lambda n: f"SKU-{n}")
    country = "US"
    cost_currency = "USD"
    discount_percent = Decimal("5")


def rate(base: str, quote: str, value: str, *, as_of: datetime.datetime | None = None):
    return ExchangeRate.objects.create(
        base=base,
        quote=quote,
        rate=Decimal(value),
        as_of=as_of or timezone.now() - datetime.timedelta(hours=1),
        source="test",
    )


def merchant_with_program(
    *, country: str = "US", currency: str = "USD", point_value: str = "0.01", **terms: Any
) -> tuple[Merchant, Program]:
    merchant = MerchantFactory(live=True, country=country, default_currency=currency)
    program = program_configure(
        merchant=merchant,
        actor=SYSTEM,
        name="P",
        points_name="Points",
        point_value=Decimal(point_value),
        base_earn_rate=Decimal("1"),
        pending_days=0,
        **terms,
    )
    return merchant, program


def offered(reward: Reward, *countries: str) -> Reward:
    """Give the reward an in-stock offer in each country (its own countries by default)."""
    for country in countries or reward.countries:
        OfferFactory(reward=reward, country=getattr(country, "code", country))
    return reward


def select(merchant: Merchant, *rewards: Reward, **terms: Any) -> list[MerchantCatalogItem]:
    return services.catalog_items_add(merchant=merchant, rewards=rewards, actor=SYSTEM, **terms)
