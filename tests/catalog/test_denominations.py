"""Denomination rules: fixed lists and ranges, in the face currency's decimals."""

from decimal import Decimal

import pytest

from catalog import denominations
from catalog.exceptions import InvalidDenominations
from tests.catalog.factories import RewardFactory


@pytest.mark.parametrize(
    ("currency", "values", "field"),
    [
        ("USD", ["10", "25.50"], None),
        ("JPY", ["1000", "5000"], None),
        ("KWD", ["5.125", "10"], None),
        ("USD", [], "denominations"),
        ("USD", ["10", "10.00"], "denominations"),  # the same value twice
        ("USD", ["0"], "denominations"),
        ("USD", ["-5"], "denominations"),
        ("USD", ["ten"], "denominations"),
        ("USD", [None], "denominations"),
        ("USD", [True], "denominations"),
        ("USD", ["NaN"], "denominations"),
        ("USD", ["Infinity"], "denominations"),
        ("USD", ["1e999999"], "denominations"),  # beyond any currency's digits
        ("USD", ["1e-999999"], "denominations"),
        ("USD", ["10.005"], "denominations"),  # three decimals in USD
        ("JPY", ["1000.5"], "denominations"),  # JPY has none
        ("KWD", ["5.1255"], "denominations"),  # KWD has three
        ("USD", ["2000000"], "denominations"),
        ("USD", [str(n) for n in range(1, 60)], "denominations"),
    ],
)
def test_fixed_lists(currency, values, field):
    errors = denominations.validate(kind="fixed", currency=currency, values=values)
    assert (next(iter(errors)) if errors else None) == field


@pytest.mark.parametrize(
    ("currency", "minimum", "maximum", "step", "field"),
    [
        ("USD", "10", "500", "5", None),
        ("USD", "10", "10", "1", None),
        ("JPY", "1000", "50000", "500", None),
        ("KWD", "1.250", "20", "0.250", None),
        ("USD", None, "500", "5", "min_value"),
        ("USD", "10", None, "5", "max_value"),
        ("USD", "10", "500", None, "step"),
        ("USD", "0", "500", "5", "min_value"),
        ("USD", "10", "500", "0", "step"),
        ("USD", "500", "10", "5", "max_value"),
        ("USD", "10", "501", "5", "step"),  # not a whole number of steps
        ("JPY", "1000.5", "2000", "1", "min_value"),
        ("KWD", "1.2505", "20", "0.25", "min_value"),
    ],
)
def test_ranges(currency, minimum, maximum, step, field):
    def dec(value):
        return None if value is None else Decimal(value)

    errors = denominations.validate(
        kind="range", currency=currency, minimum=dec(minimum), maximum=dec(maximum), step=dec(step)
    )
    assert (next(iter(errors)) if errors else None) == field


def test_a_range_has_no_list_and_a_list_no_range():
    assert "denominations" in denominations.validate(
        kind="range",
        currency="USD",
        values=["10"],
        minimum=Decimal(1),
        maximum=Decimal(2),
        step=Decimal(1),
    )
    assert "min_value" in denominations.validate(
        kind="fixed", currency="USD", values=["10"], minimum=Decimal(1)
    )
    assert "denomination_kind" in denominations.validate(kind="other", currency="USD")


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("10", True),
        ("15", True),
        ("500", True),
        ("12", False),
        ("5", False),
        ("505", False),
        ("10.50", False),
        ("0", False),
    ],
)
def test_a_range_allows_its_steps_only(value, allowed):
    rule = denominations.Denominations(
        kind="range",
        minimum=Decimal(10),
        maximum=Decimal(500),
        step=Decimal(5),
        currency="USD",
    )
    assert rule.allows(Decimal(value)) is allowed


def test_a_fixed_list_allows_its_values_in_any_spelling():
    rule = denominations.Denominations(
        kind="fixed", values=(Decimal("10.00"), Decimal(25)), currency="USD"
    )
    assert rule.allows(Decimal("10"))
    assert rule.allows(Decimal("25.00"))
    assert not rule.allows(Decimal("10.001"))
    assert not rule.allows(Decimal("20"))


@pytest.mark.django_db
def test_reward_save_refuses_bad_denominations_and_stores_them_canonical():
    reward = RewardFactory(face_currency="KWD", denominations=["10", "5.5", "5.500"][:2])
    assert reward.denominations == ["5.500", "10.000"]
    with pytest.raises(InvalidDenominations) as caught:
        RewardFactory(face_currency="JPY", denominations=["1000.5"])
    assert caught.value.field == "denominations"
    ranged = RewardFactory(
        denomination_kind="range",
        denominations=[],
        min_value=Decimal("10"),
        max_value=Decimal("200"),
        step=Decimal("10"),
    )
    assert ranged.denominations == []


def test_described_for_people_in_the_currencys_decimals():
    fixed = denominations.Denominations(
        kind="fixed", values=(Decimal("25"), Decimal("50.5")), currency="CAD"
    )
    ranged = denominations.Denominations(
        kind="range",
        minimum=Decimal("10.0000"),
        maximum=Decimal("500.0000"),
        step=Decimal("5.0000"),
        currency="KWD",
    )
    assert denominations.describe(fixed) == "25.00 / 50.50 CAD"
    assert denominations.describe(ranged) == "10.000 to 500.000 by 5.000 KWD"
