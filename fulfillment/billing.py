"""What a delivered redemption costs the merchant: posted as a usage record (in the
merchants app) in the same transaction as the delivery, for the invoices."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from catalog import pricing
from core.money import quantize_money
from fulfillment.models import Redemption, SupplierOrder
from loyalty.exceptions import ExchangeRateMissing
from loyalty.rates import rate_between
from merchants.models import FeePlan, Merchant, UsageKind, UsageRecord
from merchants.selectors import fee_plan_current
from merchants.services.billing import usage_record_post, usage_records_post

HUNDRED = Decimal(100)


@dataclass
class BillingCache:
    """The fee plans and exchange rates one dispatch run bills with, each read once.

    Safe for the length of a run (under a minute): plans are never edited (a new one
    supersedes the old from a later day, so the plan is looked up per merchant and day),
    and a rate stored while a run is under way is used from the next run on, as if the
    deliveries of the run had happened when it started. Never shared between runs."""

    plans: dict[tuple[int, datetime.date], FeePlan | None] = field(default_factory=dict)
    rates: dict[tuple[str, str], Decimal | str] = field(default_factory=dict)  # str: missing

    def plan(self, merchant: Merchant, on: datetime.date) -> FeePlan | None:
        key = (merchant.pk, on)
        if key not in self.plans:
            self.plans[key] = fee_plan_current(merchant=merchant, on=on)
        return self.plans[key]

    def rate(self, from_currency: str, to_currency: str, at: datetime.datetime) -> Decimal:
        key = (from_currency, to_currency)
        if key not in self.rates:
            try:
                self.rates[key] = rate_between(from_currency, to_currency, at)
            except ExchangeRateMissing as exc:
                self.rates[key] = exc.detail
        found = self.rates[key]
        if isinstance(found, str):
            raise ExchangeRateMissing(found, field="currency")
        return found


def redemption_bill(
    *,
    redemption: Redemption,
    supplier_order: SupplierOrder,
    at: datetime.datetime,
    cache: BillingCache | None = None,
) -> UsageRecord:
    """Post the delivered redemption once: its reward value, what the supplier charged
    (the supplier's figure, else the offer's terms) and the fee the merchant's plan
    charges (margin on the value plus the fee per redemption), in the plan's currency.

    Reads nothing the caller holds: the redemption's merchant (load it with the
    redemption) and the order's offer. ``cache`` carries the plans and rates from one
    delivery of a dispatch run to the next."""
    return usage_record_post(
        **_usage(redemption=redemption, supplier_order=supplier_order, at=at, cache=cache)
    )


def redemptions_bill(
    *,
    delivered: Iterable[tuple[Redemption, SupplierOrder]],
    at: datetime.datetime,
    cache: BillingCache | None = None,
) -> None:
    """``redemption_bill`` for many deliveries at once: their records posted in one
    statement, each once."""
    cache = cache or BillingCache()
    usage_records_post(
        records=[
            _usage(redemption=redemption, supplier_order=order, at=at, cache=cache)
            for redemption, order in delivered
        ]
    )


def _usage(
    *,
    redemption: Redemption,
    supplier_order: SupplierOrder,
    at: datetime.datetime,
    cache: BillingCache | None,
) -> dict[str, Any]:
    """The keyword arguments of ``usage_record_post`` for one delivery."""
    cache = cache or BillingCache()
    merchant = redemption.merchant
    plan = cache.plan(merchant, at.date())
    currency = plan.currency if plan else redemption.face_currency
    offer = supplier_order.offer
    face_total = redemption.face_value * redemption.quantity
    details = {
        "face_value": redemption.face_value,
        "face_currency": redemption.face_currency,
        "points": redemption.points_total,
        "supplier": supplier_order.supplier_id,
        "offer": offer.pk,
        "supplier_order": supplier_order.idempotency_key,
    }
    try:
        face_rate = cache.rate(redemption.face_currency, currency, at)
        reward_value = quantize_money(face_total * face_rate, currency)
        if supplier_order.cost is not None:
            cost_rate = cache.rate(
                supplier_order.cost_currency or offer.cost_currency, currency, at
            )
            cost = supplier_order.cost * cost_rate
            details["cost_from"] = "supplier"
        else:
            unit = pricing.cost_in(redemption.face_value, offer.discount_percent, Decimal(0))
            cost = redemption.quantity * (
                unit * face_rate + offer.fee * cache.rate(offer.cost_currency, currency, at)
            )
            details["cost_from"] = "offer terms"
        cost = quantize_money(cost, currency)
        fee = Decimal(0)
        if plan is not None:
            fee = quantize_money(
                reward_value * plan.reward_margin_percent / HUNDRED + plan.fee_per_redemption,
                currency,
            )
        details["rate"] = face_rate
    except ExchangeRateMissing as exc:
        # Billed in the face currency, at face value; finance sees why.
        currency, reward_value, cost, fee = redemption.face_currency, face_total, None, Decimal(0)
        details["problem"] = exc.detail
    return {
        "merchant": merchant,
        "kind": UsageKind.REDEMPTION,
        "source_ref": str(redemption.public_id),
        "occurred_at": at,
        "currency": currency,
        "reward_value": reward_value,
        "cost": cost,
        "fee": fee,
        "quantity": redemption.quantity,
        "fee_plan": plan,
        "details": details,
    }
