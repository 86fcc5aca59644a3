"""Point prices of rewards. Pure: no ORM.

The automatic price of a face value: converted into the program's currency (quantized to
that currency, half-up), divided by the value of one point, times (1 + margin %), then
rounded to the merchant's step: up (the default, so rounding never sells below cost) or
to the nearest step (half up). A price is never below one step.
"""

from dataclasses import dataclass
from decimal import Decimal

from catalog.denominations import Denominations, canonical
from core.money import quantize_money, round_to_step

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class PriceTerms:
    point_value: Decimal  # program currency per point
    program_currency: str
    rate: Decimal  # program currency per unit of the face currency (1 when they match)
    margin_percent: Decimal = Decimal(0)
    step: int = 1
    rounding: str = "up"  # or "nearest"


def points_per_unit(terms: PriceTerms) -> Decimal:
    """Points per unit of face value before rounding (what a range reward shows)."""
    return terms.rate * (1 + terms.margin_percent / HUNDRED) / terms.point_value


def auto_price(face_value: Decimal, terms: PriceTerms) -> int:
    in_program_currency = quantize_money(face_value * terms.rate, terms.program_currency)
    raw = in_program_currency / terms.point_value * (1 + terms.margin_percent / HUNDRED)
    return round_to_step(raw, terms.step, terms.rounding)


def fixed_rate_price(face_value: Decimal, per_unit: Decimal, step: int, rounding: str) -> int:
    """A range reward's override: a fixed number of points per unit of face value."""
    return round_to_step(face_value * per_unit, step, rounding)


def cost_in(face_value: Decimal, discount_percent: Decimal, fee: Decimal) -> Decimal:
    """What one unit costs from a supplier, in its cost currency (unquantized)."""
    return face_value * (1 - discount_percent / HUNDRED) + fee


def recovered(face_value: Decimal, margin_percent: Decimal, fee_per_redemption: Decimal) -> Decimal:
    """What a merchant's fee plan bills for one redemption of ``face_value`` (same currency)."""
    return face_value * (1 + margin_percent / HUNDRED) + fee_per_redemption


@dataclass(frozen=True)
class ItemPrices:
    prices: dict[str, int]  # canonical face value -> points (a range: its two ends)
    points_per_unit: Decimal
    min_points: int
    max_points: int


def item_prices(
    denominations: Denominations,
    terms: PriceTerms,
    *,
    fixed_prices: dict[str, int] | None = None,
    fixed_points_per_unit: Decimal | None = None,
) -> ItemPrices:
    """The prices of every listed value of a fixed reward, or of both ends of a range."""
    fixed_prices = fixed_prices or {}
    currency = denominations.currency
    if denominations.kind == "fixed":
        per_unit = points_per_unit(terms)
        values = denominations.values
    else:
        per_unit = fixed_points_per_unit or points_per_unit(terms)
        values = (denominations.minimum, denominations.maximum)
    prices: dict[str, int] = {}
    for value in values:
        key = canonical(value, currency)
        if key in fixed_prices:
            prices[key] = int(fixed_prices[key])
        elif fixed_points_per_unit is not None and denominations.kind == "range":
            prices[key] = fixed_rate_price(value, fixed_points_per_unit, terms.step, terms.rounding)
        else:
            prices[key] = auto_price(value, terms)
    return ItemPrices(
        prices=prices,
        points_per_unit=per_unit,
        min_points=min(prices.values()),
        max_points=max(prices.values()),
    )


def price_of(
    value: Decimal,
    denominations: Denominations,
    terms: PriceTerms,
    *,
    fixed_prices: dict[str, int] | None = None,
    fixed_points_per_unit: Decimal | None = None,
) -> int:
    """The price of one allowed value (any step of a range)."""
    key = canonical(value, denominations.currency)
    if fixed_prices and key in fixed_prices:
        return int(fixed_prices[key])
    if fixed_points_per_unit is not None and denominations.kind == "range":
        return fixed_rate_price(value, fixed_points_per_unit, terms.step, terms.rounding)
    return auto_price(value, terms)
