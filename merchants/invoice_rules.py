"""The arithmetic of an invoice, pure (no ORM): the month billed, its lines, the tax.

- **Lines.** From the fee plan and the month's usage alone: the platform fee; active
  members times the fee per active member; redemptions times the fee per redemption; the
  value of the rewards delivered, passed on at cost; the margin on that value (value times
  the plan's margin percent). Each line's amount is rounded once to the currency's minor
  unit (``core.money.quantize_money``, half-up); the subtotal is the sum of the rounded
  lines, so the lines on paper add up to it. A line that would bill nothing (no
  redemptions, a fee of 0 per member, a margin of 0 %) is left out; the platform fee
  always shows.
- **Tax.** The billing profile's rate, rounded once on the subtotal. A business customer
  established in another EU member state than the provider's, with a VAT number on its
  profile, is billed 0 % with the reverse-charge note instead: the customer accounts for
  the VAT (Article 196 of Directive 2006/112/EC). Without a VAT number the supply is
  treated as domestic and the profile's rate applies; outside the EU it is the profile's
  rate too (which Finance sets to 0 where no VAT is due).
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from core.money import quantize_money

HUNDRED = Decimal(100)
REVERSE_CHARGE_NOTE = "VAT reverse charge, Article 196 of Council Directive 2006/112/EC"

EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)


def month_bounds(year: int, month: int) -> tuple[datetime.date, datetime.date]:
    """The first and last day of the month; ``ValueError`` for a month that does not exist."""
    first = datetime.date(year, month, 1)
    following = datetime.date(year + month // 12, month % 12 + 1, 1)
    return first, following - datetime.timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class TaxTerms:
    rate_percent: Decimal
    note: str = ""


def tax_terms(
    *,
    customer_country: str,
    customer_is_business: bool,
    customer_tax_id: str,
    customer_rate_percent: Decimal,
    provider_country: str,
) -> TaxTerms:
    """The rate an invoice charges, and the note that explains a 0 % reverse charge."""
    customer_country = customer_country.upper()
    provider_country = provider_country.upper()
    if (
        customer_is_business
        and customer_tax_id.strip()
        and customer_country in EU_COUNTRIES
        and provider_country in EU_COUNTRIES
        and customer_country != provider_country
    ):
        return TaxTerms(rate_percent=Decimal(0), note=REVERSE_CHARGE_NOTE)
    return TaxTerms(rate_percent=Decimal(customer_rate_percent))


def tax_amount(subtotal: Decimal, rate_percent: Decimal, currency: str) -> Decimal:
    return quantize_money(subtotal * rate_percent / HUNDRED, currency)


@dataclass(frozen=True, kw_only=True)
class PlanTerms:
    """The fees of a plan, as the lines need them."""

    currency: str
    monthly_platform_fee: Decimal
    fee_per_active_member: Decimal
    fee_per_redemption: Decimal
    reward_margin_percent: Decimal


@dataclass(frozen=True, kw_only=True)
class MonthUsage:
    active_members: int = 0
    redemptions: int = 0
    reward_value: Decimal = Decimal(0)


@dataclass(frozen=True, kw_only=True)
class Line:
    code: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


def _line(code: str, description: str, quantity, unit_price: Decimal, currency: str) -> Line:
    quantity = Decimal(quantity)
    return Line(
        code=code,
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        amount=quantize_money(quantity * unit_price, currency),
    )


def _percent_text(percent: Decimal) -> str:
    return f"{Decimal(percent).normalize():f}"


def invoice_lines(*, plan: PlanTerms, usage: MonthUsage) -> list[Line]:
    currency = plan.currency
    lines = [_line("platform_fee", "Platform fee", 1, plan.monthly_platform_fee, currency)]
    if usage.active_members and plan.fee_per_active_member:
        lines.append(
            _line(
                "active_members",
                "Active members",
                usage.active_members,
                plan.fee_per_active_member,
                currency,
            )
        )
    if usage.redemptions and plan.fee_per_redemption:
        lines.append(
            _line(
                "redemptions",
                "Rewards delivered (fee per redemption)",
                usage.redemptions,
                plan.fee_per_redemption,
                currency,
            )
        )
    value = quantize_money(usage.reward_value, currency)
    if value:
        lines.append(_line("reward_value", "Value of the rewards delivered", 1, value, currency))
    if value and plan.reward_margin_percent:
        margin = quantize_money(value * plan.reward_margin_percent / HUNDRED, currency)
        lines.append(
            _line(
                "reward_margin",
                f"Margin on reward value ({_percent_text(plan.reward_margin_percent)} %)",
                1,
                margin,
                currency,
            )
        )
    return lines


def lines_subtotal(lines: Iterable[Line], currency: str) -> Decimal:
    return quantize_money(sum((line.amount for line in lines), Decimal(0)), currency)
