"""Writes of the catalog: rewards, suppliers and their adapter settings, merchants'
selections and their point prices."""

import datetime
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog import denominations, locks, pricing
from catalog.alerts import alert_clear, alert_raise
from catalog.exceptions import (
    InvalidDenominations,
    InvalidPriceOverride,
    SupplierCredentialsLocked,
)
from catalog.models import (
    RECIPIENT_FIELDS,
    AlertKind,
    MerchantCatalogItem,
    Reward,
    RewardStatus,
    Supplier,
)
from catalog.supplier_settings import schema_for, settings_json, stored_settings
from core.actors import Actor, actor_label, actor_user, history_user
from core.exceptions import DomainError
from core.money import quantize_places
from loyalty.exceptions import ExchangeRateMissing
from loyalty.models import CampaignEffect, Program
from loyalty.rates import convert, rate_between
from loyalty.services.programs import program_get_active
from merchants.models import ChecklistItem, Merchant
from merchants.selectors import fee_plan_current
from merchants.services.lifecycle import checklist_item_complete

logger = logging.getLogger("catalog.services")

# Who clears a cost alert when a new price recovers the cost: the pricing itself.
PRICING = Actor.system("pricing")

# The fields whose change reprices every merchant's item of the reward.
PRICE_FIELDS = (
    "face_currency",
    "denomination_kind",
    "denominations",
    "min_value",
    "max_value",
    "step",
)


# -- rewards -----------------------------------------------------------------------------


def reward_validate(*, reward: Reward) -> None:
    """Raise ``InvalidDenominations`` / ``DomainError`` naming the field at fault."""
    errors = denominations.validate(
        kind=reward.denomination_kind,
        currency=reward.face_currency,
        values=reward.denominations or (),
        minimum=reward.min_value,
        maximum=reward.max_value,
        step=reward.step,
    )
    if errors:
        field, message = next(iter(errors.items()))
        raise InvalidDenominations(message, field=field, field_errors=errors)
    if not isinstance(reward.recipient_fields, list) or any(
        name not in RECIPIENT_FIELDS for name in reward.recipient_fields
    ):
        raise DomainError(
            f"recipient_fields takes any of {', '.join(RECIPIENT_FIELDS)}.",
            field="recipient_fields",
        )
    if not reward.countries:
        raise DomainError("Name at least one country.", field="countries")


def _normalise(reward: Reward) -> None:
    if reward.denomination_kind == "fixed":
        values = sorted({denominations.parse_value(raw) for raw in reward.denominations})
        reward.denominations = [denominations.canonical(v, reward.face_currency) for v in values]
        reward.min_value = reward.max_value = reward.step = None
    else:
        reward.denominations = []
    reward.recipient_fields = sorted(set(reward.recipient_fields))


@transaction.atomic
def reward_save(*, reward: Reward, actor: Actor) -> Reward:
    """Validate and save a reward (the admin's form and the import build it); a change of
    its face values reprices every merchant's item of it. The history records who."""
    reward_validate(reward=reward)
    _normalise(reward)
    try:
        reward.full_clean(exclude=["brand"] if reward.brand_id else None)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(" ".join(messages), field=field) from exc
    previous = None
    if reward.pk:
        previous = Reward.objects.filter(pk=reward.pk).values(*PRICE_FIELDS).first()
    reward._history_user = history_user(actor)
    reward.save()
    if previous is not None and any(previous[f] != getattr(reward, f) for f in PRICE_FIELDS):
        catalog_items_reprice(reward_ids=[reward.pk])
    return reward


@transaction.atomic
def rewards_set_status(*, rewards: Iterable[Reward], status: str, actor: Actor) -> int:
    """Pause, activate or retire rewards (one history row each). A retired reward stays:
    it is never deleted, and it can be brought back."""
    if status not in RewardStatus.values:
        raise DomainError(f"Unknown status {status!r}.", field="status")
    changed = 0
    for reward in locks.rewards_lock(r.pk for r in rewards):
        if reward.status == status:
            continue
        reward.status = status
        reward._history_user = history_user(actor)
        reward.save(update_fields=["status", "updated_at"])
        changed += 1
    return changed


# -- suppliers ---------------------------------------------------------------------------

CREDENTIALS_PERMISSION = "catalog.change_supplier_credentials"


def supplier_may_change_credentials(*, actor: Actor) -> bool:
    """May ``actor`` change a supplier's secrets, or what decides where they are sent
    (its adapter, a URL its secrets go to)? Staff with the permission may; so may the
    system (a command or job)."""
    user = actor_user(actor)
    if actor.kind == "system":
        return True
    return user is not None and user.is_active and user.has_perm(CREDENTIALS_PERMISSION)


@dataclass(frozen=True)
class SettingsChange:
    """Settings checked for saving: ``values`` as they will be stored, the names of what
    changes (``adapter`` included), and those of them only the credentials permission
    may change."""

    values: dict[str, Any]
    changed: list[str]
    locked: list[str]


def supplier_settings_check(*, supplier: Supplier, settings: Mapping[str, Any]) -> SettingsChange:
    """Check ``settings`` (for ``supplier.adapter``, as staff typed them) against the
    adapter's schema; raises ``InvalidSupplierSettings`` naming each setting at fault.

    A blank secret keeps the stored one, while the adapter stays the same; a secret is
    never carried to another adapter. Changing the adapter of a saved supplier, a secret,
    or a setting that decides where secrets are sent is ``locked``."""
    stored = Supplier.objects.filter(pk=supplier.pk).first() if supplier.pk else None
    return _settings_change(supplier, settings, stored)


def _settings_change(
    supplier: Supplier, settings: Mapping[str, Any], stored: Supplier | None
) -> SettingsChange:
    schema = schema_for(supplier.adapter)
    before_adapter = stored.adapter if stored is not None else ""
    same_adapter = before_adapter == supplier.adapter
    before = stored_settings(stored.adapter_config) if stored is not None and same_adapter else {}
    submitted = dict(settings)
    for setting in schema.secrets:
        value = submitted.get(setting.name)
        if (value is None or value == "") and setting.name in before:
            submitted[setting.name] = before[setting.name]
    values = schema.clean(submitted)
    changed = [name for name in schema.names if values.get(name) != before.get(name)]
    locked = [name for name in changed if schema.get(name).protected]
    if stored is not None and not same_adapter:
        changed.insert(0, "adapter")
        locked.insert(0, "adapter")
    return SettingsChange(values=values, changed=changed, locked=locked)


@transaction.atomic
def supplier_save(*, supplier: Supplier, settings: Mapping[str, Any], actor: Actor) -> Supplier:
    """Save ``supplier`` with its adapter's ``settings`` (see ``supplier_settings_check``).
    Raises ``SupplierCredentialsLocked`` (nothing saved) when a locked change comes from
    an actor without the credentials permission."""
    # Locked, so that two saves of one supplier compare with what the other stored.
    stored = locks.supplier_lock(supplier.pk) if supplier.pk else None
    change = _settings_change(supplier, settings, stored)
    if change.locked and not supplier_may_change_credentials(actor=actor):
        raise SupplierCredentialsLocked(
            f"Changing {', '.join(change.locked)} needs the permission to change supplier "
            "credentials.",
            field=change.locked[0],
        )
    supplier.adapter_config = settings_json(change.values)
    supplier.save()
    logger.info(
        "%s saved supplier %s; settings changed: %s",
        actor_label(actor),
        supplier.slug,
        ", ".join(change.changed) or "none",
    )
    return supplier


# -- merchant catalogs -------------------------------------------------------------------


def item_validate(*, item: MerchantCatalogItem) -> None:
    if item.audience_segment_id is not None and (
        item.audience_segment.merchant_id != item.merchant_id
    ):
        raise DomainError("Choose one of this merchant's segments.", field="audience_segment")
    if item.unlocked_by_id is not None and (
        item.unlocked_by.program.merchant_id != item.merchant_id
        or item.unlocked_by.effect != CampaignEffect.UNLOCK_REWARD
    ):
        raise DomainError(
            "Choose one of this merchant's campaigns that unlock rewards.", field="unlocked_by"
        )
    if (
        item.unlocked_by_achievement_id is not None
        and item.unlocked_by_achievement.merchant_id != item.merchant_id
    ):
        raise DomainError(
            "Choose one of this merchant's achievements.", field="unlocked_by_achievement"
        )
    reward = item.reward
    rule = denominations.of_reward(reward)
    overrides = item.fixed_prices or {}
    if not isinstance(overrides, dict):
        raise InvalidPriceOverride("fixed_prices maps values to points.", field="fixed_prices")
    for key, points in overrides.items():
        value = denominations.parse_value(key)
        if value is None or rule.kind != "fixed" or not rule.allows(value):
            raise InvalidPriceOverride(
                f"{key} is not one of the reward's values.", field="fixed_prices"
            )
        if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
            raise InvalidPriceOverride(
                f"The price of {key} must be a positive whole number of points.",
                field="fixed_prices",
            )
    if item.fixed_points_per_unit is not None:
        if rule.kind != "range":
            raise InvalidPriceOverride(
                "Points per unit overrides only a range reward's price; a fixed list takes "
                "fixed_prices.",
                field="fixed_points_per_unit",
            )
        if item.fixed_points_per_unit <= 0:
            raise InvalidPriceOverride(
                "Points per unit must be positive.", field="fixed_points_per_unit"
            )


def _canonical_overrides(item: MerchantCatalogItem) -> dict[str, int]:
    currency = item.reward.face_currency
    return {
        denominations.canonical(denominations.parse_value(key), currency): int(points)
        for key, points in (item.fixed_prices or {}).items()
    }


def unit_price(*, item: MerchantCatalogItem, program: Program, value: Decimal) -> int:
    """The points one unit of ``value`` (an allowed value of the reward) costs now: the
    item's override, or the automatic price at the program's current point value and the
    rate the item was last priced with."""
    return pricing.price_of(
        value,
        denominations.of_reward(item.reward),
        price_terms(item=item, program=program, rate=item.rate_used or Decimal(1)),
        fixed_prices=_canonical_overrides(item),
        fixed_points_per_unit=item.fixed_points_per_unit,
    )


def price_terms(
    *, item: MerchantCatalogItem, program: Program, rate: Decimal
) -> pricing.PriceTerms:
    return pricing.PriceTerms(
        point_value=program.point_value,
        program_currency=program.currency,
        rate=rate,
        margin_percent=item.margin_percent,
        step=item.price_step,
        rounding=item.price_rounding,
    )


def item_price(
    *, item: MerchantCatalogItem, program: Program, at: datetime.datetime | None = None
) -> MerchantCatalogItem:
    """Compute the item's prices in place (not saved), with the latest rate at ``at``."""
    at = at or timezone.now()
    reward = item.reward
    try:
        conversion = convert(
            amount=Decimal(1),
            from_currency=reward.face_currency,
            to_currency=program.currency,
            at=at,
        )
    except ExchangeRateMissing as exc:
        item.prices, item.points_per_unit = {}, None
        item.min_points = item.max_points = None
        item.exchange_rate, item.rate_used = None, None
        item.pricing_error = exc.detail[:300]
        item.priced_at = at
        return item
    prices = pricing.item_prices(
        denominations.of_reward(reward),
        price_terms(item=item, program=program, rate=conversion.rate),
        fixed_prices=_canonical_overrides(item),
        fixed_points_per_unit=item.fixed_points_per_unit,
    )
    item.prices = prices.prices
    item.points_per_unit = quantize_places(prices.points_per_unit, 8)
    item.min_points, item.max_points = prices.min_points, prices.max_points
    item.exchange_rate = conversion.rate_row
    item.rate_used = conversion.rate if conversion.rate_row else None
    item.point_value_used = program.point_value
    item.pricing_error = ""
    item.priced_at = at
    _check_cost(item, at)
    return item


def _check_cost(item: MerchantCatalogItem, at: datetime.datetime) -> None:
    """Flag the item when, in some country, the cheapest offer costs more than the
    merchant's fee plan bills for the reward (face value plus margin plus the fee)."""
    reward = item.reward
    plan = fee_plan_current(merchant=item.merchant, on=at.date())
    subject = f"catalog-item:{item.merchant_id}:{reward.pk}"
    item.needs_review, item.review_note = False, ""
    if plan is None:
        return
    rule = denominations.of_reward(reward)
    values = rule.values if rule.kind == "fixed" else (rule.minimum, rule.maximum)
    cheapest: dict[str, Any] = {}
    for offer in reward.offers.all():
        if not offer.is_active:
            continue
        known = cheapest.get(offer.country.code)
        if known is None or (offer.discount_percent, -offer.fee) > (
            known.discount_percent,
            -known.fee,
        ):
            cheapest[offer.country.code] = offer
    problems = []
    try:
        face_rate = rate_between(reward.face_currency, plan.currency, at)
        for country, offer in sorted(cheapest.items()):
            cost_rate = rate_between(offer.cost_currency, plan.currency, at)
            for value in values:
                cost = pricing.cost_in(value, offer.discount_percent, Decimal(0)) * face_rate
                cost += offer.fee * cost_rate
                billed = pricing.recovered(
                    value * face_rate, plan.reward_margin_percent, plan.fee_per_redemption
                )
                if cost > billed:
                    problems.append(
                        f"{country} {denominations.canonical(value, reward.face_currency)} "
                        f"{reward.face_currency}: costs {cost:.2f} {plan.currency}, "
                        f"billed {billed:.2f}"
                    )
    except ExchangeRateMissing as exc:
        problems.append(exc.detail)
    if problems:
        item.needs_review = True
        item.review_note = "; ".join(problems)[:300]
        alert_raise(
            kind=AlertKind.COST_ABOVE_RECOVERY,
            subject=subject,
            message=f"{reward} for {item.merchant}: {item.review_note}",
        )
    else:
        alert_clear(kind=AlertKind.COST_ABOVE_RECOVERY, subject=subject, actor=PRICING)


@transaction.atomic
def catalog_item_save(*, item: MerchantCatalogItem, actor: Actor) -> MerchantCatalogItem:
    """Validate, price and save a merchant's catalog item (the admin's form builds it)."""
    item_validate(item=item)
    item.fixed_prices = _canonical_overrides(item)
    item_price(item=item, program=program_get_active(merchant=item.merchant))
    item._history_user = history_user(actor)
    item.save()
    if item.is_enabled:
        checklist_item_complete(
            merchant=item.merchant,
            item=ChecklistItem.CATALOG_SELECTED,
            note=f"reward {item.reward}",
            actor=actor,
        )
    return item


@transaction.atomic
def catalog_items_add(
    *, merchant: Merchant, rewards: Iterable[Reward], actor: Actor, **terms: Any
) -> list[MerchantCatalogItem]:
    """Add rewards to a merchant's catalog (those already in it are left as they are),
    priced at once; ``terms`` are the new items' pricing terms (margin, step, rounding)."""
    program = program_get_active(merchant=merchant)
    present = set(
        MerchantCatalogItem.objects.filter(merchant=merchant).values_list("reward_id", flat=True)
    )
    added = []
    now = timezone.now()
    for reward in rewards:
        if reward.pk in present or reward.status == RewardStatus.RETIRED:
            continue
        item = MerchantCatalogItem(merchant=merchant, reward=reward, **terms)
        item_validate(item=item)
        item.fixed_prices = _canonical_overrides(item)
        item_price(item=item, program=program, at=now)
        item._history_user = history_user(actor)
        item.full_clean(exclude=["merchant", "reward", "allowed_tiers"])
        item.save()
        added.append(item)
        present.add(reward.pk)
    if added:
        checklist_item_complete(
            merchant=merchant,
            item=ChecklistItem.CATALOG_SELECTED,
            note=f"{len(added)} reward(s)",
            actor=actor,
        )
    return added


def catalog_items_reprice(
    *,
    merchant_ids: Iterable[int] | None = None,
    reward_ids: Iterable[int] | None = None,
    currencies: Iterable[str] | None = None,
    at: datetime.datetime | None = None,
) -> int:
    """Recompute the prices of the items selected (all when nothing is given) and save
    those that changed; the history keeps the previous prices. Returns how many changed."""
    at = at or timezone.now()
    items = MerchantCatalogItem.objects.select_related("merchant", "reward").prefetch_related(
        "reward__offers"
    )
    if merchant_ids is not None:
        items = items.filter(merchant_id__in=list(merchant_ids))
    if reward_ids is not None:
        items = items.filter(reward_id__in=list(reward_ids))
    if currencies is not None:
        currencies = list(currencies)
        programs = Program.objects.filter(is_active=True, currency__in=currencies)
        items = items.filter(
            Q(reward__face_currency__in=currencies)
            | Q(merchant_id__in=programs.values("merchant_id"))
        )
    programs_by_merchant: dict[int, Program | None] = {}
    changed = 0
    for item in items.order_by("merchant_id", "id").iterator(chunk_size=500):
        if item.merchant_id not in programs_by_merchant:
            programs_by_merchant[item.merchant_id] = Program.objects.filter(
                merchant_id=item.merchant_id, is_active=True
            ).first()
        program = programs_by_merchant[item.merchant_id]
        if program is None:
            continue
        with transaction.atomic():
            # Compared with the row as it is under its lock: a run at the same time that
            # saved these prices first leaves this one nothing to save (and no second
            # history row), and nobody's edit of the item is written over.
            if not locks.catalog_item_reread_locked(item):
                continue
            before = (item.prices, item.points_per_unit, item.pricing_error, item.needs_review)
            item_price(item=item, program=program, at=at)
            after = (item.prices, item.points_per_unit, item.pricing_error, item.needs_review)
            if before != after:
                item.save()
                changed += 1
    return changed
