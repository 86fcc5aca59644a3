"""Money and points rounding (core.money): pure, no database."""

import math
from decimal import ROUND_DOWN, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.currency import currency_exponent, is_quantized_for
from core.money import (
    money_text,
    points_share,
    quantize_money,
    quantize_places,
    round_points,
    round_to_step,
)

PROPERTY = settings(max_examples=100, deadline=None)

amounts = st.decimals(
    min_value=Decimal("-1000000"),
    max_value=Decimal("1000000"),
    places=6,
    allow_nan=False,
    allow_infinity=False,
)
non_negative_points = st.decimals(
    min_value=Decimal(0),
    max_value=Decimal("10000000"),
    places=6,
    allow_nan=False,
    allow_infinity=False,
)
currencies = st.sampled_from(["JPY", "EUR", "USD", "KWD"])


# quantize_money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1234.5", "JPY", "1235"),
        ("1234.49", "JPY", "1234"),
        ("0.5", "JPY", "1"),
        ("12.345", "EUR", "12.35"),
        ("12.344", "EUR", "12.34"),
        ("12.3449999", "EUR", "12.34"),
        ("0.005", "EUR", "0.01"),
        ("0.004", "EUR", "0.00"),
        ("1.2345", "KWD", "1.235"),
        ("1.2344", "KWD", "1.234"),
        ("0.0005", "KWD", "0.001"),
    ],
)
def test_quantize_money_rounds_half_up_to_the_currency_minor_unit(amount, currency, expected):
    assert quantize_money(Decimal(amount), currency) == Decimal(expected)


@pytest.mark.parametrize(("currency", "places"), [("JPY", 0), ("EUR", 2), ("USD", 2), ("KWD", 3)])
def test_quantize_money_gives_exactly_the_currency_exponent(currency, places):
    result = quantize_money(Decimal("10"), currency)

    assert isinstance(result, Decimal)
    assert result.as_tuple().exponent == -places
    assert str(result) == ("10." + "0" * places if places else "10")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1000.00", "JPY", "1000"),
        ("99.9000", "EUR", "99.90"),
        ("7.5", "KWD", "7.500"),
    ],
)
def test_quantize_money_keeps_the_value_of_an_already_exact_amount(amount, currency, expected):
    result = quantize_money(Decimal(amount), currency)

    assert result == Decimal(amount)
    assert str(result) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("-12.345", "EUR", "-12.35"),
        ("-12.344", "EUR", "-12.34"),
        ("-0.5", "JPY", "-1"),
        ("-1.2345", "KWD", "-1.235"),
    ],
)
def test_quantize_money_rounds_negative_amounts_like_their_positive_mirror(
    amount, currency, expected
):
    # A refund of a charge must round to exactly minus the charge.
    assert quantize_money(Decimal(amount), currency) == Decimal(expected)
    assert quantize_money(-Decimal(amount), currency) == -Decimal(expected)


@PROPERTY
@given(amount=amounts, currency=currencies)
def test_quantized_money_fits_the_currency_and_is_within_half_a_minor_unit(amount, currency):
    result = quantize_money(amount, currency)
    half_unit = Decimal(1).scaleb(-currency_exponent(currency)) / 2

    assert isinstance(result, Decimal)
    assert is_quantized_for(result, currency)
    assert abs(result - amount) <= half_unit


@PROPERTY
@given(amount=amounts, currency=currencies)
def test_quantize_money_is_idempotent(amount, currency):
    once = quantize_money(amount, currency)

    assert quantize_money(once, currency) == once


@PROPERTY
@given(amount=amounts, currency=currencies)
def test_quantize_money_is_symmetric_around_zero(amount, currency):
    assert quantize_money(-amount, currency) == -quantize_money(amount, currency)


@PROPERTY
@given(a=amounts, b=amounts, currency=currencies)
def test_quantize_money_never_reverses_the_order_of_two_amounts(a, b, currency):
    low, high = sorted((a, b))

    assert quantize_money(low, currency) <= quantize_money(high, currency)


# round_points


@pytest.mark.parametrize(
    ("value", "down", "half_up"),
    [
        ("0", 0, 0),
        ("7", 7, 7),
        ("0.4999", 0, 0),
        ("0.5", 0, 1),
        ("1.5", 1, 2),
        ("2.5", 2, 3),  # half-up, not banker's rounding
        ("2.4999999", 2, 2),
        ("2.9999", 2, 3),
        ("12.345", 12, 12),
        ("1234567.5", 1234567, 1234568),
    ],
)
def test_round_points_down_floors_and_half_up_rounds_half_away(value, down, half_up):
    assert round_points(Decimal(value), "down") == down
    assert round_points(Decimal(value), "half_up") == half_up


@pytest.mark.parametrize("rounding", ["down", "half_up"])
def test_round_points_returns_a_plain_int(rounding):
    result = round_points(Decimal("10.50"), rounding)

    assert type(result) is int


def test_round_points_refuses_an_unknown_rounding_rule():
    with pytest.raises(KeyError):
        round_points(Decimal("1.5"), "banker")


@PROPERTY
@given(value=non_negative_points)
def test_round_points_matches_a_hand_computation(value):
    assert round_points(value, "down") == math.floor(value)
    assert round_points(value, "half_up") == math.floor(value + Decimal("0.5"))


@PROPERTY
@given(value=non_negative_points)
def test_round_points_down_is_at_most_half_up_and_at_most_one_below(value):
    down = round_points(value, "down")
    half_up = round_points(value, "half_up")

    assert down <= value
    assert down <= half_up <= down + 1
    assert abs(half_up - value) <= Decimal("0.5")


@PROPERTY
@given(a=non_negative_points, b=non_negative_points, rounding=st.sampled_from(["down", "half_up"]))
def test_round_points_is_monotonic(a, b, rounding):
    low, high = sorted((a, b))

    assert round_points(low, rounding) <= round_points(high, rounding)


def test_every_rounding_names_its_mode_whatever_the_decimal_context():
    """A context with another default rounding changes nothing: each call names its mode."""
    with localcontext() as context:
        context.rounding = ROUND_DOWN
        assert quantize_money(Decimal("2.345"), "EUR") == Decimal("2.35")  # half-up
        assert money_text(Decimal("2.345"), "EUR") == "2.34"  # half-even, as it was
        assert money_text(Decimal("2.355"), "EUR") == "2.36"
        assert quantize_places(Decimal("0.123456789125"), 10) == Decimal("0.1234567891")
        assert points_share(7, Decimal("1"), Decimal("2")) == 4  # 3.5, half-up
        assert round_to_step(Decimal("101"), 50, "up") == 150
        assert round_to_step(Decimal("124.9"), 50, "nearest") == 100
        assert round_to_step(Decimal("125"), 50, "nearest") == 150
        assert round_to_step(Decimal("3"), 50, "nearest") == 50  # one step at least


def test_a_refund_of_nothing_from_an_order_of_nothing_takes_back_no_points():
    assert points_share(40, Decimal("0"), Decimal("0")) == 0


@pytest.mark.parametrize(
    "amount", ["1E+999999", "-1E+999999", "1E-999999", "12.505", "NaN", "Infinity"]
)
def test_an_amount_no_currency_has_is_not_quantized_and_raises_nothing(amount):
    assert is_quantized_for(Decimal(amount), "USD") is False


def test_an_amount_of_whole_cents_is_quantized():
    assert is_quantized_for(Decimal("12.5000"), "EUR")
    assert not is_quantized_for(Decimal("12.5"), "JPY")
