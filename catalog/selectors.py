"""Reads of the catalog: what a member can redeem, and the offers that can deliver it."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from catalog import pricing
from catalog.models import MerchantCatalogItem, Reward, RewardStatus, SupplierOffer, VoucherCode
from catalog.pools import free_codes
from loyalty.exceptions import ExchangeRateMissing
from loyalty.models import Member
from loyalty.rates import rate_between
from merchants.models import Merchant


def member_country(*, merchant: Merchant, member: Member) -> str:
    """The member's country, or the merchant's when the store never sent one."""
    return (member.country.code if member.country else "") or merchant.country.code


def in_stock_offers(country: str) -> QuerySet[SupplierOffer]:
    """Offers that can deliver now in ``country``, for ``OuterRef("reward_id")``: active,
    from an active supplier, with stock left (unlimited digital stock, units on hand, or
    free codes in the offer's pool: not used, reserved or expired)."""
    unused_codes = VoucherCode.objects.filter(
        free_codes(timezone.localdate()), pool__offer=OuterRef("pk")
    )
    return SupplierOffer.objects.filter(
        reward_id=OuterRef("reward_id"),
        country=country,
        is_active=True,
        supplier__is_active=True,
    ).filter(
        (Q(code_pool__isnull=True) & (Q(stock__isnull=True) | Q(stock__gt=0)))
        | (Q(code_pool__isnull=False) & Exists(unused_codes))
    )


def _in_country(country: str) -> Q:
    # Reward.countries is stored as "DE,FR,US".
    return Q(reward__countries__regex=rf"(^|,){country}(,|$)")


@dataclass(frozen=True)
class RewardFilters:
    type: str | None = None
    category: str | None = None
    min_points: int | None = None
    max_points: int | None = None


def catalog_for_member(
    *,
    merchant: Merchant,
    member: Member,
    filters: RewardFilters | None = None,
    in_stock: bool = True,
) -> QuerySet[MerchantCatalogItem]:
    """The merchant's catalog items this member can redeem: enabled and priced, the
    reward active and redeemable in the member's country, in stock there, and open to
    the member's tier. Ordered by price, then reward id (stable for pagination).

    ``in_stock=False`` leaves stock out: a redemption takes its stock itself, and a
    reward that is merely sold out is then refused as out of stock, not as unknown."""
    filters = filters or RewardFilters()
    country = member_country(merchant=merchant, member=member)
    tiers = MerchantCatalogItem.allowed_tiers.through.objects.filter(
        merchantcatalogitem_id=OuterRef("pk")
    )
    items = (
        MerchantCatalogItem.objects.filter(
            merchant=merchant,
            is_enabled=True,
            min_points__isnull=False,
            reward__status=RewardStatus.ACTIVE,
        )
        .filter(_in_country(country))
        .filter(~Exists(tiers) | Exists(tiers.filter(tier_id=member.tier_id)))
    )
    if in_stock:
        items = items.filter(Exists(in_stock_offers(country)))
    if filters.type:
        items = items.filter(reward__type=filters.type)
    if filters.category:
        items = items.filter(
            Exists(
                MerchantCatalogItem.objects.filter(
                    pk=OuterRef("pk"), reward__brand__categories__slug=filters.category
                )
            )
        )
    if filters.min_points is not None:
        items = items.filter(max_points__gte=filters.min_points)
    if filters.max_points is not None:
        items = items.filter(min_points__lte=filters.max_points)
    return (
        items.select_related("reward", "reward__brand")
        .prefetch_related("reward__brand__categories")
        .order_by("min_points", "reward_id")
    )


def offers_for_delivery(
    *, reward: Reward, country: str, face_value: Decimal, at: datetime.datetime
) -> list[SupplierOffer]:
    """The offers that can deliver ``face_value`` of ``reward`` in ``country`` now, the
    cheapest first (unit cost in the reward's face currency at the rates known at ``at``;
    then ``preference``, then id): the order fulfillment tries them in, failing over to
    the next. An offer whose cost currency has no rate goes last."""
    offers = list(
        SupplierOffer.objects.filter(pk__in=_available(reward, country))
        .select_related("supplier", "code_pool")
        .order_by("preference", "id")
    )
    unknown = Decimal("Infinity")

    def cost(offer: SupplierOffer) -> Decimal:
        fee = offer.fee
        if fee and offer.cost_currency != reward.face_currency:
            try:
                fee *= rate_between(offer.cost_currency, reward.face_currency, at)
            except ExchangeRateMissing:
                return unknown
        return pricing.cost_in(face_value, offer.discount_percent, Decimal(0)) + fee

    return sorted(offers, key=lambda offer: (cost(offer), offer.preference, offer.pk))


def _available(reward: Reward, country: str):
    return (
        SupplierOffer.objects.filter(reward=reward)
        .filter(Exists(in_stock_offers(country).filter(pk=OuterRef("pk"))))
        .values("pk")
    )
