"""Reads of the catalog: what a member can redeem, and the offers that can deliver it."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, QuerySet

from catalog import denominations, pricing
from catalog.models import MerchantCatalogItem, Reward, RewardStatus, SupplierOffer, VoucherCode
from catalog.pools import free_codes
from catalog.services import price_terms
from core.site_time import site_today
from loyalty.exceptions import ExchangeRateMissing
from loyalty.models import AchievementCompletion, Member, Program, SegmentMembership
from loyalty.rates import rate_between
from loyalty.selectors import campaigns_unlocking_for
from merchants.models import Merchant


def member_country(*, merchant: Merchant, member: Member) -> str:
    """The member's country, or the merchant's when the store never sent one."""
    return (member.country.code if member.country else "") or merchant.country.code


def in_stock_offers(country: str) -> QuerySet[SupplierOffer]:
    """Offers that can deliver now in ``country``, for ``OuterRef("reward_id")``: active,
    from an active supplier, with stock left (unlimited digital stock, units on hand, or
    free codes in the offer's pool: not used, reserved or expired)."""
    unused_codes = VoucherCode.objects.filter(free_codes(site_today()), pool__offer=OuterRef("pk"))
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
    the member: their tier, the item's audience segment, the campaign that unlocks it
    (running, targeting them, not holding them out) and the achievement that unlocks it
    (completed). Ordered by price, then reward id
    (stable for pagination).

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
        .filter(
            Q(audience_segment__isnull=True)
            | Exists(
                SegmentMembership.objects.filter(
                    segment_id=OuterRef("audience_segment_id"), member=member, left_at__isnull=True
                )
            )
        )
        .filter(
            Q(unlocked_by__isnull=True)
            | Q(unlocked_by__in=campaigns_unlocking_for(merchant=merchant, member=member))
        )
        .filter(
            Q(unlocked_by_achievement__isnull=True)
            | Exists(
                AchievementCompletion.objects.filter(
                    achievement_id=OuterRef("unlocked_by_achievement_id"), member=member
                )
            )
        )
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


@dataclass(frozen=True)
class MemberReward:
    """One catalog item as a member sees it: its prices under the program's terms now, and
    what the member's balance affords (rendered by ``MemberRewardSerializer``)."""

    item: MerchantCatalogItem
    rule: denominations.Denominations
    prices: dict[str, int]  # canonical face value -> points (a range: its two ends)
    points_per_unit: Decimal
    balance: int

    @property
    def min_points(self) -> int:
        return min(self.prices.values())

    @property
    def max_points(self) -> int:
        return max(self.prices.values())

    @property
    def affordable(self) -> bool:
        return self.min_points <= self.balance

    @property
    def categories(self) -> list[str]:
        return [category.slug for category in self.item.reward.brand.categories.all()]

    @property
    def denominations(self) -> list[dict]:
        if self.rule.kind != "fixed":
            return []
        return [
            {"value": value, "points": points, "affordable": points <= self.balance}
            for value, points in self.prices.items()
        ]

    @property
    def range(self) -> dict | None:
        rule = self.rule
        if rule.kind == "fixed":
            return None
        return {
            "min": denominations.canonical(rule.minimum, rule.currency),
            "max": denominations.canonical(rule.maximum, rule.currency),
            "step": denominations.canonical(rule.step, rule.currency),
            "points_per_unit": f"{Decimal(self.points_per_unit).quantize(Decimal('1e-4')):f}",
            "min_points": self.min_points,
            "max_points": self.max_points,
        }


def member_rewards(
    *, items: Iterable[MerchantCatalogItem], member: Member, program: Program
) -> list[MemberReward]:
    """``items`` (from ``catalog_for_member``) priced as the member sees them. An item
    priced under another point value than the program's now (the value changed and the
    scheduled repricing has not run yet) is priced again here under the current terms, at
    the rate it was priced with; nothing is saved."""
    priced = []
    for item in items:
        rule = denominations.of_reward(item.reward)
        prices, per_unit = item.prices, item.points_per_unit
        if item.point_value_used != program.point_value:
            computed = pricing.item_prices(
                rule,
                price_terms(item=item, program=program, rate=item.rate_used or 1),
                fixed_prices=item.fixed_prices or None,
                fixed_points_per_unit=item.fixed_points_per_unit,
            )
            prices, per_unit = computed.prices, computed.points_per_unit
        priced.append(
            MemberReward(
                item=item,
                rule=rule,
                prices=prices,
                points_per_unit=per_unit,
                balance=member.points_balance,
            )
        )
    return priced


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
