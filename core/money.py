"""Money and points arithmetic: every rounding of the project lives here, and each names
its rounding mode (none relies on the decimal context's default, half-even).

- Money is ``Decimal`` with an ISO 4217 code, quantized to the currency's own exponent
  (JPY 0, EUR 2, KWD 3) half-up (``quantize_money``).
- A denomination is written with its currency's decimals (``money_text``); a stray extra
  digit of an unvalidated input is decided half-even there, as it always was.
- Points are ``int``, rounded from a ``Decimal`` by the program's rule (down or half-up)
  once, at the end of an evaluation (``round_points``); a refund takes back its share of
  an order's points half-up (``points_share``).
- A reward's price is a whole number of the merchant's steps: up (never below cost) or
  to the nearest (half-up), and at least one step (``round_to_step``).
- Stored ratios keep a fixed number of places, half-even (``quantize_places``): exchange
  rates (10) and points per unit of face value (8).

Pure: no ORM here.
"""

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from core.currency import currency_exponent

_POINT_ROUNDING = {"down": ROUND_DOWN, "half_up": ROUND_HALF_UP}
_STEP_ROUNDING = {"up": ROUND_CEILING, "nearest": ROUND_HALF_UP}


def _unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


def quantize_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(_unit(currency), rounding=ROUND_HALF_UP)


def money_text(amount: Decimal, currency: str) -> str:
    """``amount`` with the currency's decimals, as the API and stored prices write it."""
    return f"{amount.quantize(_unit(currency), rounding=ROUND_HALF_EVEN):f}"


def quantize_places(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def round_points(value: Decimal, rounding: str) -> int:
    return int(value.to_integral_value(rounding=_POINT_ROUNDING[rounding]))


def points_share(points: int, part: Decimal, whole: Decimal) -> int:
    """``part / whole`` of ``points``, half-up (0 when ``whole`` is 0)."""
    if not whole:
        return 0
    return int((Decimal(points) * part / whole).to_integral_value(rounding=ROUND_HALF_UP))


def round_to_step(points: Decimal, step: int, rounding: str) -> int:
    """A whole number of ``step``\\s: ``"up"`` or ``"nearest"`` (half-up); one at least.
    Any other value rounds to the nearest, as the catalog always did."""
    mode = _STEP_ROUNDING.get(rounding, ROUND_HALF_UP)
    return max(int((points / step).to_integral_value(rounding=mode)), 1) * step
