import datetime
import threading
from typing import Any

from django.core.validators import EmailValidator
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
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
)
from loyalty.api.outcomes import OutcomeSerializer, outcomes_represented
from loyalty.api.referral_input import ReferralFieldsMixin
from loyalty.external_ids import EXTERNAL_ID_PATTERN
from loyalty.models import Activity, ActivityKind, LedgerEntry, Member, Order, Refund
from loyalty.services.members import ADJUST_POINTS_MAX

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


def shared_serializer(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    instances = _local.__dict__.setdefault("instances", {})
    instance = instances.get(serializer_class)
    if instance is None:
        instance = instances[serializer_class] = serializer_class()
    return instance


def validated(serializer_class: type[serializers.Serializer], data: Any) -> Any:
    """``serializer_class(data=data).validated_data``; raises its ``ValidationError``."""
    try:
        return shared_serializer(serializer_class).run_validation(data)
    except serializers.ValidationError:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def parsed(serializer_class: type[serializers.Serializer], data: Any) -> tuple[Any, Any]:
    """``(validated_data, None)``, or ``(None, errors)`` as ``serializer_class(data=data)``
    gives them."""
    try:
        return shared_serializer(serializer_class).run_validation(data), None
    except serializers.ValidationError:
        serializer = serializer_class(data=data)
        serializer.is_valid()
        return None, serializer.errors


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
PHONE_PATTERN = r"^(\+?[0-9][0-9 ().-]{2,30})?$"


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
    phone = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=32,
        pattern=PHONE_PATTERN,
        pattern_message="Give a phone number: digits, an optional leading +, spaces, ( ) . -",
        help_text="Best in E.164 (+33612345678); a national number is read in the member's "
        "country.",
        example="+33612345678",
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


class MemberUpsertSerializer(ReferralFieldsMixin, MemberWriteSerializer):
    """A member as ``POST /api/v1/members/`` takes it: the profile, and a referral."""


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


class MemberRefFieldSchema(OpenApiSerializerFieldExtension):
    """The member of an order or activity in the schema: an external_id, or the member
    object (its component made from ``MemberWriteSerializer`` here, whatever else the
    schema uses)."""

    target_class = MemberRefField

    def map_serializer_field(self, auto_schema, direction):
        component = auto_schema.resolve_serializer(MemberWriteSerializer, direction)
        return {
            "oneOf": [
                {
                    "type": "string",
                    "pattern": EXTERNAL_ID_PATTERN,
                    "maxLength": 128,
                    "description": "The member's external_id.",
                },
                component.ref,
            ]
        }


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
            "phone",
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
        min_value=-ADJUST_POINTS_MAX,
        max_value=ADJUST_POINTS_MAX,
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


class OrderInputSerializer(ReferralFieldsMixin, serializers.Serializer):
    """An order, and a referral of its member (``referral_code``) when it came with one."""

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


class AssumeSerializer(serializers.Serializer):
    tier = StrictCharField(max_length=60, required=False, allow_blank=True, default="")
    segments = serializers.ListField(
        child=StrictIntegerField(min_value=1), required=False, max_length=100, default=list
    )


class SimulateInputSerializer(OrderInputSerializer):
    external_id = external_id_field(required=False)
    referral_code = None
    referral = None
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
    achievements = serializers.SerializerMethodField(
        help_text="The achievements it counted toward, and whether it completed them."
    )

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
            "achievements",
            "created_at",
        ]

    @extend_schema_field(OutcomeSerializer(many=True))
    def get_achievements(self, order: Order) -> list[dict]:
        return outcomes_represented(order, f"order:{order.pk}")

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
    achievements = serializers.SerializerMethodField(
        help_text="The achievements it counted toward, and whether it completed them."
    )

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
            "achievements",
            "created_at",
        ]

    @extend_schema_field(OutcomeSerializer(many=True))
    def get_achievements(self, activity: Activity) -> list[dict]:
        return outcomes_represented(activity, f"activity:{activity.pk}")


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
