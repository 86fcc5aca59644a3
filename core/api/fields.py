"""The input fields of every API serializer: a value of the type the schema states, or a
400 ``invalid_input`` naming the field.

DRF's own fields coerce: ``CharField`` turns ``0`` into ``"0"``, ``IntegerField`` takes
``"12"`` and ``12.0``, ``BooleanField`` takes ``"yes"`` and ``1``, ``DecimalField`` takes
JSON numbers (floats) and ``"1e3"``. A store whose client sends the wrong type has a bug
it should hear about, and money never passes through a float. These fields take the JSON
type the OpenAPI schema gives and nothing else. (Query parameters arrive as text: their
serializers keep DRF's fields.)
"""

import re
from decimal import ROUND_HALF_UP, Decimal

from django.core.validators import RegexValidator
from django_countries import countries
from drf_spectacular.utils import extend_schema_field
from rest_framework import fields, serializers

from core.currency import currency_codes, currency_exponent

# A string field's text: no NUL character (PostgreSQL refuses it), and, unless blank is
# allowed, something besides whitespace (which is trimmed).
NOT_EMPTY_PATTERN = r"^[^\u0000]+$"
NOT_BLANK_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


class StrictCharField(serializers.CharField):
    """A JSON string; numbers, booleans, objects and arrays are refused (code
    ``invalid``). ``pattern``: a regular expression the whole value must match;
    ``example``: a value the schema shows."""

    def __init__(
        self,
        *,
        pattern: str | None = None,
        pattern_message: str | None = None,
        example: str | None = None,
        **kw,
    ):
        if pattern is not None:
            # A value with a pattern is taken exactly as sent: " id" is not "id".
            kw.setdefault("trim_whitespace", False)
        super().__init__(**kw)
        self.pattern = pattern
        self.example = example
        if pattern is not None:
            # ``$`` also matches before a final newline: ``\Z`` only at the very end (the
            # schema shows ``$``, its meaning in ECMA-262).
            server = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
            self.validators.append(RegexValidator(re.compile(server), message=pattern_message))

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: ``"12"``, ``12.0`` and booleans are refused. ``refused``: values
    the schema states are not taken (the serializer or service says why)."""

    def __init__(self, *, refused: tuple[int, ...] = (), **kwargs):
        super().__init__(**kwargs)
        self.refused = refused

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false``: ``"yes"``, ``1`` and ``"true"`` are refused."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictChoiceField(serializers.ChoiceField):
    """One of the choices, given as a JSON string."""

    default_error_messages = {
        "invalid": "Give one of the codes as a string.",
        "invalid_choice": '"{input}" is not one of the codes.',
    }

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def amount_pattern(*, whole_digits: int, decimal_places: int, positive: bool) -> str:
    number = rf"\d{{1,{whole_digits}}}(\.\d{{1,{decimal_places}}})?"
    if positive:
        return rf"^(?=[0.]*[1-9]){number}$"  # some digit besides zero
    return rf"^{number}$"


class AmountField(serializers.DecimalField):
    """An amount of money as a JSON string of digits (``"120.00"``): no JSON number (it
    would be a float), no sign, exponent or spaces, at most 4 decimal places; the services
    hold it to the currency's own (JPY 0, USD 2, KWD 3). ``positive`` says in the schema
    that zero is refused too (by the service, which owns that rule)."""

    default_error_messages = {
        "format": 'Give the amount as a string of digits, such as "120.00".',
    }

    def __init__(self, *, positive: bool = False, max_digits: int = 14, **kwargs):
        kwargs.setdefault("decimal_places", 4)
        super().__init__(max_digits=max_digits, min_value=Decimal(0), **kwargs)
        whole_digits = max_digits - self.decimal_places
        self._number = re.compile(
            amount_pattern(
                whole_digits=whole_digits, decimal_places=self.decimal_places, positive=False
            )
        )
        self.pattern = amount_pattern(
            whole_digits=whole_digits, decimal_places=self.decimal_places, positive=positive
        )

    def to_internal_value(self, data):
        if not isinstance(data, str) or not self._number.fullmatch(data):
            self.fail("format")
        return super().to_internal_value(data)


class CurrencyCodeField(StrictChoiceField):
    """An ISO 4217 currency code, such as ``USD``."""

    default_error_messages = {"invalid_choice": '"{input}" is not an ISO 4217 currency code.'}

    def __init__(self, **kwargs):
        super().__init__(choices=sorted(currency_codes()), **kwargs)


def country_codes() -> list[str]:
    """Every ISO 3166-1 alpha-2 code (the schema's ``CountryEnum``)."""
    return [code for code, _ in countries]


class CountryCodeField(StrictChoiceField):
    """An ISO 3166-1 alpha-2 country code, such as ``US``; ``""`` clears it where blank is
    allowed."""

    default_error_messages = {
        "invalid_choice": '"{input}" is not an ISO 3166-1 alpha-2 country code.'
    }

    def __init__(self, **kwargs):
        super().__init__(choices=country_codes(), **kwargs)


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": r"^\d+(\.\d+)?$",
        "description": "An amount with its currency's own decimals (JPY none, USD two, KWD three).",
    }
)
class MoneyOutputField(serializers.Field):
    """Read only: an amount as a string with exactly its currency's decimals (``"120.00"``
    in USD, ``"1200"`` in JPY), never the stored scale (``"120.0000"``). ``currency``: the
    dotted path of the currency code on the object."""

    def __init__(self, *, currency: str, **kwargs):
        self.currency_path = currency.split(".")
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance):
        amount = super().get_attribute(instance)
        return amount, fields.get_attribute(instance, self.currency_path)

    def to_representation(self, value) -> str | None:
        amount, currency = value
        if amount is None:
            return None
        places = Decimal(1).scaleb(-currency_exponent(currency))
        return str(Decimal(amount).quantize(places, ROUND_HALF_UP))


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "ipv4"},
            {"type": "string", "format": "ipv6"},
        ]
    }
)
class IPAddressField(serializers.IPAddressField):
    """An IPv4 or IPv6 address, as the schema says it (DRF's own field states no format)."""
