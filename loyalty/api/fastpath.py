"""The order endpoints' hot path: an order body read, and an order answered, without
DRF's generic walk through the serializers, giving exactly what ``OrderInputSerializer``
and ``OrderSerializer`` give (``tests/loyalty/test_order_input_read.py`` and
``tests/loyalty/test_order_represented.py`` hold them to the same answers)."""

import re
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from rest_framework import serializers

from core.api.fields import amount_pattern
from core.currency import currency_codes
from loyalty.api.serializers import (
    MAX_AMOUNT_DIGITS,
    MemberWriteSerializer,
    OrderSerializer,
    shared_serializer,
)
from loyalty.external_ids import EXTERNAL_ID_PATTERN
from loyalty.models import Order

# -- a well-formed order body, read without the serializer ------------------------------
#
# Most order bodies are well formed, and reading one through DRF's fields costs more than
# recording it. ``order_input_read`` reads the common shape in plain Python with the
# serializer's own rules (the same patterns, lengths, ranges, currency codes, the same
# ``DateTimeField`` and ``EmailValidator``) and gives what ``OrderInputSerializer`` would
# give; anything it is not sure of (an error, a member's country or birthday, non-ASCII
# SKUs...) it leaves to the serializer, which then says what is wrong in its own words.
# ``tests/loyalty/test_order_input_read.py`` holds the two to the same answers.

_ID = re.compile(EXTERNAL_ID_PATTERN.removeprefix("^").removesuffix("$"))
_AMOUNT = re.compile(
    amount_pattern(whole_digits=MAX_AMOUNT_DIGITS - 4, decimal_places=4, positive=False)
    .removeprefix("^")
    .removesuffix("$")
)
_FOUR_PLACES = Decimal("0.0001")
_CURRENCIES = frozenset(currency_codes())
_PLACED_AT = serializers.DateTimeField()
_STORE = serializers.UUIDField()
_EMAIL = EmailValidator()
_MEMBER_TEXT = {"email": 254, "first_name": 120, "last_name": 120}
_MEMBER_OTHER = frozenset(MemberWriteSerializer._declared_fields) - {"external_id", *_MEMBER_TEXT}
_UNSURE = object()


def _text(value: object, max_length: int) -> object:
    """A blank-allowed, trimmed ``StrictCharField`` of printable ASCII, or ``_UNSURE``."""
    if type(value) is not str:
        return _UNSURE
    value = value.strip()
    if len(value) > max_length or not value.isascii() or not value.isprintable():
        return _UNSURE
    return value


def _amount(value: object) -> object:
    if type(value) is not str or not _AMOUNT.fullmatch(value):
        return _UNSURE
    return Decimal(value).quantize(_FOUR_PLACES)


def _member(value: object) -> object:
    if type(value) is str:
        value = {"external_id": value}
    elif type(value) is not dict:
        return _UNSURE
    external_id = value.get("external_id")
    if type(external_id) is not str or not _ID.fullmatch(external_id):
        return _UNSURE
    member: dict[str, Any] = {}
    for name, given in value.items():
        if name in _MEMBER_OTHER:
            return _UNSURE
        max_length = _MEMBER_TEXT.get(name)
        if max_length is None:
            continue  # external_id, or not a field: ignored, as the serializer ignores it
        text = _text(given, max_length)
        if text is _UNSURE:
            return _UNSURE
        if name == "email" and text:
            try:
                _EMAIL(text)
            except ValidationError:
                return _UNSURE
        member[name] = text
    member["external_id"] = external_id
    return member


def _line(value: object) -> object:
    if type(value) is not dict:
        return _UNSURE
    line = {}
    for name in ("sku", "category"):
        line[name] = _text(value.get(name, ""), 128)
        if line[name] is _UNSURE:
            return _UNSURE
    quantity = value.get("quantity")
    if type(quantity) is not int or not 1 <= quantity <= 1_000_000:
        return _UNSURE
    line["quantity"] = quantity
    line["unit_price"] = _amount(value.get("unit_price"))
    return _UNSURE if line["unit_price"] is _UNSURE else line


def order_input_read(data: object) -> dict | None:
    """What ``OrderInputSerializer(data=data).validated_data`` would be, or None where
    only the serializer can say (see above)."""
    if type(data) is not dict or "referral_code" in data or "referral" in data:
        return None  # a referral: the serializer reads it (the rare order that has one)
    external_id = data.get("external_id")
    if type(external_id) is not str or not _ID.fullmatch(external_id):
        return None
    member = _member(data.get("member"))
    total = _amount(data.get("total"))
    currency = data.get("currency")
    placed_at = data.get("placed_at")
    if member is _UNSURE or total is _UNSURE or type(currency) is not str:
        return None
    if currency not in _CURRENCIES or type(placed_at) is not str:
        return None
    try:
        placed_at = _PLACED_AT.to_internal_value(placed_at)
    except serializers.ValidationError:
        return None
    order = {
        "external_id": external_id,
        "member": member,
        "total": total,
        "currency": currency,
        "placed_at": placed_at,
    }
    if "store" in data:
        store = data["store"]
        if store is not None:
            if type(store) is not str:
                return None
            try:
                store = _STORE.to_internal_value(store)
            except serializers.ValidationError:
                return None
        order["store"] = store
    if "lines" in data:
        lines = data["lines"]
        if type(lines) is not list or len(lines) > 1000:
            return None
        order["lines"] = [_line(line) for line in lines]
        if any(line is _UNSURE for line in order["lines"]):
            return None
    return order


def order_represented(order: Order) -> dict:
    """``OrderSerializer(order).data``, the answer of every order recorded, with the
    serializer's own fields formatting each value but without its generic walk through
    them (``Serializer.to_representation`` and the nested rules cost more than the values).
    ``tests/loyalty/test_order_represented.py`` holds the two to the same output."""
    serializer = shared_serializer(OrderSerializer)
    fields = serializer.fields
    lot = serializer._lot(order)
    placed_at = fields["placed_at"]
    return {
        "external_id": order.external_id,
        "member": order.member.external_id,
        "placed_at": placed_at.to_representation(order.placed_at),
        "currency": order.currency,
        "total": fields["total"].to_representation((order.total, order.currency)),
        "program_currency": order.program_currency,
        "program_total": fields["program_total"].to_representation(
            (order.program_total, order.program_currency)
        ),
        "rate_used": (
            None
            if order.rate_used is None
            else fields["rate_used"].to_representation(order.rate_used)
        ),
        "points_earned": order.points_earned,
        "points_status": "none"
        if lot is None
        else ("pending" if lot.released_at is None else "available"),
        "available_at": None if lot is None else placed_at.to_representation(lot.available_at),
        "rules": [
            {
                "rule_id": None if part.get("rule_id") is None else int(part["rule_id"]),
                "campaign_id": (
                    None if part.get("campaign_id") is None else int(part["campaign_id"])
                ),
                "label": str(part["label"]),
                "points": str(part["points"]),
            }
            for part in order.explanation
        ],
        "refunded_total": fields["refunded_total"].to_representation(
            (order.refunded_total, order.currency)
        ),
        "points_reversed": order.points_reversed,
        "achievements": (
            serializer.get_achievements(order)
            if getattr(order, "achievement_outcomes", True)
            else []
        ),
        "created_at": placed_at.to_representation(order.created_at),
    }


def represented(serializer_class: type[serializers.Serializer], instance: Any) -> dict:
    """``serializer_class(instance).data``."""
    if serializer_class is OrderSerializer:
        return order_represented(instance)
    return shared_serializer(serializer_class).to_representation(instance)
