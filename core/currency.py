"""ISO 4217 currency codes and their minor-unit exponents (JPY 0, EUR 2, KWD 3).

Babel carries the ISO 4217 tables, so the list and the exponents stay current with it.
"""

from decimal import Decimal, InvalidOperation
from functools import cache

from babel.numbers import get_currency_precision, list_currencies
from django.core.exceptions import ValidationError


@cache
def currency_codes() -> frozenset[str]:
    return frozenset(code for code in list_currencies() if len(code) == 3 and code.isalpha())


def is_currency_code(value: object) -> bool:
    return isinstance(value, str) and value in currency_codes()


def validate_currency_code(value: str) -> None:
    if not is_currency_code(value):
        raise ValidationError(
            "%(value)s is not an ISO 4217 currency code.",
            code="invalid_currency",
            params={"value": value},
        )


def currency_exponent(code: str) -> int:
    return get_currency_precision(code)


def is_quantized_for(amount: Decimal, code: str) -> bool:
    """True when ``amount`` is a whole number of the currency's minor unit (trailing
    zeros allowed: 12.5000 is fine for EUR, 12.505 is not)."""
    if not amount.is_finite():
        return False
    step = Decimal(1).scaleb(-currency_exponent(code))
    try:
        return amount == amount.quantize(step)
    except InvalidOperation:  # more digits than any amount has (1E+999999)
        return False
