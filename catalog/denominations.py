"""Denomination rules of a reward: a fixed list of values, or a range with a step. Pure:
no ORM. Values are ``Decimal`` in the reward's face currency, which fixes how many
decimals they may have (JPY none, EUR two, KWD three)."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from core.currency import currency_exponent, is_quantized_for
from core.money import money_text

MAX_FIXED_VALUES = 50
MAX_VALUE = Decimal("1000000")
MAX_DIGITS = 30  # beyond this many digits either way, text is no amount


@dataclass(frozen=True)
class Denominations:
    kind: str  # "fixed" or "range"
    values: tuple[Decimal, ...] = ()  # fixed
    minimum: Decimal | None = None  # range
    maximum: Decimal | None = None
    step: Decimal | None = None
    currency: str = ""

    def allows(self, value: Decimal) -> bool:
        if not is_quantized_for(value, self.currency) or value <= 0:
            return False
        if self.kind == "fixed":
            return value in self.values
        assert self.minimum is not None
        assert self.maximum is not None
        assert self.step is not None
        return self.minimum <= value <= self.maximum and (value - self.minimum) % self.step == 0


def parse_value(raw: object) -> Decimal | None:
    """A denomination from JSON or a form (text or number), or None if it is not one."""
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None
    # No amount is meant, and arithmetic on it would overflow the decimal context.
    if not value.is_finite() or abs(value.adjusted()) > MAX_DIGITS:
        return None
    return value


def validate(
    *,
    kind: str,
    currency: str,
    values: Sequence[object] = (),
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    step: Decimal | None = None,
) -> dict[str, str]:
    """The problems of a denomination rule, by field name; empty when it is valid."""
    errors: dict[str, str] = {}
    exponent = currency_exponent(currency)
    decimals = f"{currency} amounts have {exponent} decimal place(s)"
    if kind == "fixed":
        if minimum is not None or maximum is not None or step is not None:
            errors["min_value"] = "A fixed list has no minimum, maximum or step."
        if not values:
            errors["denominations"] = "List at least one value."
            return errors
        if len(values) > MAX_FIXED_VALUES:
            errors["denominations"] = f"At most {MAX_FIXED_VALUES} values."
            return errors
        parsed = []
        for raw in values:
            value = parse_value(raw)
            if value is None or value <= 0 or value > MAX_VALUE:
                errors["denominations"] = f"{raw!r} is not a positive amount up to {MAX_VALUE}."
                return errors
            if not is_quantized_for(value, currency):
                errors["denominations"] = f"{raw}: {decimals}."
                return errors
            parsed.append(value)
        if len(set(parsed)) != len(parsed):
            errors["denominations"] = "A value is listed twice."
        return errors
    if kind != "range":
        return {"denomination_kind": "Choose fixed or range."}
    if values:
        errors["denominations"] = "A range has no list of values."
    for name, value in (("min_value", minimum), ("max_value", maximum), ("step", step)):
        if value is None:
            errors[name] = "Required for a range."
        elif value <= 0 or value > MAX_VALUE:
            errors[name] = f"Must be a positive amount up to {MAX_VALUE}."
        elif not is_quantized_for(value, currency):
            errors[name] = f"{decimals}."
    if errors:
        return errors
    assert minimum is not None
    assert maximum is not None
    assert step is not None
    if maximum < minimum:
        errors["max_value"] = "The maximum is below the minimum."
    elif (maximum - minimum) % step != 0:
        errors["step"] = "The range must be a whole number of steps from the minimum."
    return errors


def of_reward(reward) -> Denominations:
    """The rule of a ``Reward`` (duck-typed, to keep this module free of the ORM)."""
    if reward.denomination_kind == "fixed":
        values = sorted({v for v in map(parse_value, reward.denominations) if v is not None})
        return Denominations(kind="fixed", values=tuple(values), currency=reward.face_currency)
    return Denominations(
        kind="range",
        minimum=reward.min_value,
        maximum=reward.max_value,
        step=reward.step,
        currency=reward.face_currency,
    )


def canonical(value: Decimal, currency: str) -> str:
    """A value as the API and the stored prices write it: the currency's decimals."""
    return money_text(value, currency)


def describe(rule: Denominations) -> str:
    """For people: "25.00 / 50.00 CAD", or "10.00 to 500.00 by 5.00 CAD"."""
    if rule.kind == "fixed":
        values = " / ".join(canonical(value, rule.currency) for value in rule.values)
    else:
        assert rule.minimum is not None
        assert rule.maximum is not None
        assert rule.step is not None
        values = (
            f"{canonical(rule.minimum, rule.currency)} to "
            f"{canonical(rule.maximum, rule.currency)} by {canonical(rule.step, rule.currency)}"
        )
    return f"{values} {rule.currency}"
