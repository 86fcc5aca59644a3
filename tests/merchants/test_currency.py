from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.currency import currency_exponent, is_quantized_for, validate_currency_code


@pytest.mark.parametrize(("code", "exponent"), [("JPY", 0), ("EUR", 2), ("USD", 2), ("KWD", 3)])
def test_currency_exponents_follow_iso_4217(code, exponent):
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize(
    ("amount", "code", "ok"),
    [
        ("100", "JPY", True),
        ("100.0000", "JPY", True),
        ("100.5", "JPY", False),
        ("12.5000", "EUR", True),
        ("12.505", "EUR", False),
        ("1.234", "KWD", True),
        ("1.2345", "KWD", False),
        ("NaN", "EUR", False),
        ("Infinity", "EUR", False),
    ],
)
def test_amount_fits_the_currency_minor_unit(amount, code, ok):
    assert is_quantized_for(Decimal(amount), code) is ok


@pytest.mark.parametrize("code", ["usd", "XYZ", "EURO", "", "12"])
def test_non_iso_codes_are_refused(code):
    with pytest.raises(ValidationError):
        validate_currency_code(code)
