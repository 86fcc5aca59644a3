"""Money and points arithmetic: every rounding rule of the project lives here.

Money is ``Decimal`` with an ISO 4217 code, quantized to the currency's own exponent
(JPY 0, EUR 2, KWD 3) half-up. Points are ``int``, rounded from a ``Decimal`` by the
program's rule (down or half-up) once, at the end of an evaluation. Pure: no ORM here.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from core.currency import currency_exponent

_POINT_ROUNDING = {"down": ROUND_DOWN, "half_up": ROUND_HALF_UP}


def quantize_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)), ROUND_HALF_UP)


def round_points(value: Decimal, rounding: str) -> int:
    return int(value.to_integral_value(rounding=_POINT_ROUNDING[rounding]))
