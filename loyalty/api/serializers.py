import datetime
import re
import threading
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import (
    AmountField,
    CountryCodeField,
    CurrencyCodeField,
    MoneyOutputField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
    amount_pattern,
)
from core.currency import currency_codes
from loyalty.external_ids import EXTERNAL_ID_PATTERN
from loyalty.models import Activity, ActivityKind, LedgerEntry, Member, Order, Refund

# -- serializers built once a thread -----------------------------------------------------
#
# DRF builds a serializer's fields for every instance: a deep copy of each declared field,
# which re-runs its __init__ (the currency and country fields rebuild their lists of
# choices), and a ModelSerializer builds its model fields again. For a small body that
# costs more than validating or rendering it. The store API's hot paths (an order, a
# bulk call's items, their answers) go through one instance a thread instead, through the
# serializer's own ``run_validation`` and ``to_representation``: the same rules, messages
# and output, only the fields are not built again. An invalid body is validated once more
# the usual way, so its errors are worded exactly as ``is_valid`` words them.

_local = threading.local()


def _shared(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    instances = _local.__dict__.setdefault("instances", {})
    instance = instances.get(serializer_class)
    if instance is None:
        instance = instances[serializer_class] = serializer_class()
    return instance


def validated(serializer_class: type[serializers.Serializer], data: Any) -> Any:
    """``serializer_class(data=data).validated_data``; raises its ``ValidationError``."""
    try:
        return _shared(serializer_class).run_validation(data)
    except serializers.ValidationError:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def parsed(serializer_class: type[serializers.Serializer], data: Any) -> tuple[Any, Any]:
    """``(validated_data, None)``, or ``(None, errors)`` as ``serializer_class(data=data)``
    gives them."""
    try:
        return _shared(serializer_class).run_validation(data), None
    except serializers.ValidationError:
        serializer = serializer_class(data=data)
        serializer.is_valid()
        return None, serializer.errors


def represented(serializer_class: type[serializers.Serializer], instance: Any) -> dict:
    """``serializer_class(instance).data``."""
    if serializer_class is OrderSerializer:
        return order_represented(instance)
    return _shared(serializer_class).to_representation(instance)


def _contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def validate_json_object(value: dict) -> dict:
    """JSON kept as data: no NUL characters (PostgreSQL's jsonb refuses them), 10 kB."""
    if _contains_nul(value):
        raise serializers.ValidationError("NUL characters are not allowed.")
    if len(str(value)) > 10_000:
        raise serializers.ValidationError("Limited to 10 kB.")
    return value


EXTERNAL_ID = EXTERNAL_ID_PATTERN
MAX_AMOUNT_DIGITS = 14
LOCALE_PATTERN = r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$"


def external_id_field(**kwargs) -> StrictCharField:
    return StrictCharField(
        pattern=EXTERNAL_ID,
        pattern_message="Use 1 to 128 letters, digits or . _ : @ + = -",
        max_length=128,
        **kwargs,
    )


def money_field(**kwargs) -> AmountField:
    return AmountField(max_digits=MAX_AMOUNT_DIGITS, **kwargs)


class MemberFieldsSerializer(serializers.Serializer):
    """The profile fields a store may send; all optional."""

    email = StrictCharField(
        required=False, allow_blank=True, max_length=254, validators=[EmailValidator()]
    )
    first_name = StrictCharField(required=False, allow_blank=True, max_length=120)
    last_name = StrictCharField(required=False, allow_blank=True, max_length=120)
    country = CountryCodeField(
        required=False,
        allow_blank=True,
        help_text="ISO 3166-1 alpha-2; an empty string clears it.",
    )
    locale = StrictCharField(
        pattern=LOCALE_PATTERN,
        required=False,
        allow_blank=True,
        max_length=20,
        help_text="A locale such as fr or pt-BR.",
    )
    birthday = serializers.DateField(required=False, allow_null=True)
    marketing_consent = StrictBooleanField(required=False)
    attributes = serializers.DictField(
        required=False,
        help_text=(
            "The store's CRM data, 10 kB at most. Once ops define the merchant's attribute "
            "schema, each key must be one of its attributes with a value of its type (text, "
            "number, YYYY-MM-DD date, boolean, one of its choices; null removes it); "
            "otherwise a 400 invalid_attribute names it."
        ),
    )

    def validate_attributes(self, value: dict) -> dict:
        return validate_json_object(value)

    def validate_birthday(self, value):
        latest = timezone.now().date() + datetime.timedelta(days=1)  # today in any zone
        if value is not None and not (datetime.date(1900, 1, 1) <= value <= latest):
            raise serializers.ValidationError("Give a birthday between 1900 and today.")
        return value


class MemberWriteSerializer(MemberFieldsSerializer):
    external_id = external_id_field()


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "string",
                "pattern": EXTERNAL_ID_PATTERN,
                "maxLength": 128,
                "description": "The member's external_id.",
            },
            {"$ref": "#/components/schemas/MemberWriteRequest"},
        ]
    }
)
class MemberRefField(serializers.Field):
    """A member as the store knows them: their ``external_id``, or an object with it and
    profile fields used when the member is new."""

    default_error_messages = {"invalid": "Give the member's external_id or an object with it."}

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = {"external_id": data}
        if not isinstance(data, dict):
            self.fail("invalid")
        return validated(MemberWriteSerializer, data)

    def to_representation(self, value):
        return value


class TierSerializer(serializers.Serializer):
    name = serializers.CharField()
    multiplier = serializers.DecimalField(max_digits=6, decimal_places=3)
    benefits = serializers.CharField()


class MemberSerializer(serializers.ModelSerializer):
    country = serializers.CharField(source="country.code", allow_blank=True)
    tier = TierSerializer(allow_null=True)

    class Meta:
        model = Member
        fields = [
            "external_id",
            "email",
            "first_name",
            "last_name",
            "country",
            "locale",
            "birthday",
            "marketing_consent",
            "attributes",
            "status",
            "tier",
            "points_balance",
            "pending_points",
            "lifetime_points",
            "created_at",
        ]


class LedgerEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "points",
            "pending",
            "balance_after",
            "pending_after",
            "source_type",
            "source_ref",
            "reason",
            "shortfall",
            "created_at",
        ]


class AdjustmentSerializer(serializers.Serializer):
    points = StrictIntegerField(
        min_value=-(10**12),
        max_value=10**12,
        refused=(0,),
        help_text="Points to add (positive) or take (negative); never zero.",
    )
    reason = StrictCharField(max_length=500)

    def validate_points(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("Give a non-zero number of points.")
        return value


class OrderLineSerializer(serializers.Serializer):
    sku = StrictCharField(max_length=128, required=False, allow_blank=True, default="")
    category = StrictCharField(max_length=128, required=False, allow_blank=True, default="")
    quantity = StrictIntegerField(min_value=1, max_value=1_000_000)
    unit_price = money_field(help_text="In the order's currency.")


class OrderInputSerializer(serializers.Serializer):
    external_id = external_id_field()
    member = MemberRefField()
    total = money_field(
        help_text="Zero or more, with no more decimal places than the currency has (JPY 0, "
        "USD 2, KWD 3)."
    )
    currency = CurrencyCodeField(help_text="ISO 4217.")
    placed_at = serializers.DateTimeField(help_text="From 2000-01-01 to a day from now at most.")
    store = serializers.UUIDField(required=False, allow_null=True)
    lines = OrderLineSerializer(many=True, required=False, max_length=1000)


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
    if type(data) is not dict:
        return None
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


class AssumeSerializer(serializers.Serializer):
    tier = StrictCharField(max_length=60, required=False, allow_blank=True, default="")
    segments = serializers.ListField(
        child=StrictIntegerField(min_value=1), required=False, max_length=100, default=list
    )


class SimulateInputSerializer(OrderInputSerializer):
    external_id = external_id_field(required=False)
    assume = AssumeSerializer(
        required=False,
        help_text="For a member who does not exist yet: the tier and segment ids to assume.",
    )


class ExplanationSerializer(serializers.Serializer):
    rule_id = serializers.IntegerField(allow_null=True)
    campaign_id = serializers.IntegerField(
        allow_null=True, default=None, help_text="The campaign that gave this part, if any."
    )
    label = serializers.CharField()
    points = serializers.CharField(help_text="Before rounding.")


class SkippedSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["rule", "campaign"])
    id = serializers.IntegerField()
    name = serializers.CharField()
    reason = serializers.CharField()


class SimulatedMemberSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    exists = serializers.BooleanField()
    tier = serializers.CharField(allow_null=True)
    segments = serializers.ListField(child=serializers.IntegerField())


class SimulationSerializer(serializers.Serializer):
    member = SimulatedMemberSerializer()
    program_currency = serializers.CharField()
    program_total = serializers.CharField()
    points = serializers.IntegerField(help_text="What the order would earn now.")
    rules = ExplanationSerializer(many=True, help_text="What would give points, and how many.")
    not_applied = SkippedSerializer(
        many=True, help_text="Rules and campaigns that would not apply, and why."
    )
    evaluated_at = serializers.DateTimeField()


class OrderSerializer(serializers.ModelSerializer):
    member = serializers.CharField(source="member.external_id")
    total = MoneyOutputField(currency="currency")
    program_total = MoneyOutputField(currency="program_currency")
    refunded_total = MoneyOutputField(currency="currency")
    points_status = serializers.SerializerMethodField()
    available_at = serializers.SerializerMethodField()
    rules = ExplanationSerializer(source="explanation", many=True)

    class Meta:
        model = Order
        fields = [
            "external_id",
            "member",
            "placed_at",
            "currency",
            "total",
            "program_currency",
            "program_total",
            "rate_used",
            "points_earned",
            "points_status",
            "available_at",
            "rules",
            "refunded_total",
            "points_reversed",
            "created_at",
        ]

    def _lot(self, order: Order):
        # order_record attaches the lot it created; a replayed order loads it once.
        if not hasattr(order, "first_lot"):
            order.first_lot = order.lots.order_by("id").first()
        return order.first_lot

    @extend_schema_field(serializers.ChoiceField(choices=["none", "pending", "available"]))
    def get_points_status(self, order: Order) -> str:
        lot = self._lot(order)
        if lot is None:
            return "none"
        return "pending" if lot.released_at is None else "available"

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_available_at(self, order: Order):
        lot = self._lot(order)
        return serializers.DateTimeField().to_representation(lot.available_at) if lot else None


def order_represented(order: Order) -> dict:
    """``OrderSerializer(order).data``, the answer of every order recorded, with the
    serializer's own fields formatting each value but without its generic walk through
    them (``Serializer.to_representation`` and the nested rules cost more than the values).
    ``tests/loyalty/test_order_represented.py`` holds the two to the same output."""
    serializer = _shared(OrderSerializer)
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
        "created_at": placed_at.to_representation(order.created_at),
    }


class RefundInputSerializer(serializers.Serializer):
    external_id = external_id_field()
    amount = money_field(
        positive=True,
        help_text="Above zero, in the order's currency and its decimal places; all refunds "
        "of an order add up to its total at most.",
    )
    currency = CurrencyCodeField(
        required=False, help_text="ISO 4217; when given, the order's currency."
    )


class RefundSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.external_id")
    amount = MoneyOutputField(currency="order.currency")
    currency = serializers.CharField(source="order.currency")

    class Meta:
        model = Refund
        fields = [
            "external_id",
            "order",
            "amount",
            "currency",
            "points_reversed",
            "shortfall",
            "created_at",
        ]


class ActivityInputSerializer(serializers.Serializer):
    external_id = external_id_field()
    member = MemberRefField()
    kind = StrictChoiceField(choices=ActivityKind.choices)
    custom_kind = StrictCharField(
        max_length=60,
        required=False,
        allow_blank=True,
        default="",
        help_text="Names a custom activity: required when kind is custom.",
    )
    occurred_at = serializers.DateTimeField(
        required=False, help_text="From 2000-01-01 to a day from now at most; now when absent."
    )
    data = serializers.DictField(
        required=False,
        default=dict,
        validators=[validate_json_object],
        help_text="Free-form data of the store's, 10 kB at most.",
    )


class ActivitySerializer(serializers.ModelSerializer):
    member = serializers.CharField(source="member.external_id")
    rules = ExplanationSerializer(source="explanation", many=True)

    class Meta:
        model = Activity
        fields = [
            "external_id",
            "member",
            "kind",
            "custom_kind",
            "occurred_at",
            "points_earned",
            "rules",
            "created_at",
        ]


class MemberSegmentSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="segment_id", help_text="The segment's id.")
    name = serializers.CharField(source="segment.name")
    description = serializers.CharField(source="segment.description")
    joined_at = serializers.DateTimeField(help_text="Since when the member is in it.")


class MemberSegmentListSerializer(serializers.Serializer):
    results = MemberSegmentSerializer(many=True)


class MemberCouponSerializer(serializers.Serializer):
    code = serializers.CharField()
    campaign_id = serializers.IntegerField()
    campaign = serializers.CharField(source="campaign.name", help_text="The campaign's name.")
    issued_at = serializers.DateTimeField()


class MemberCouponListSerializer(serializers.Serializer):
    results = MemberCouponSerializer(many=True)
