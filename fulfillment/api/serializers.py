from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import (
    AmountField,
    MoneyOutputField,
    StrictCharField,
    StrictIntegerField,
)
from fulfillment.models import Redemption, RedemptionEvent, RedemptionStatus, Shipment
from fulfillment.recipients import PHONE_MAX_LENGTH
from fulfillment.services.delivery import claim_url
from loyalty.api.serializers import external_id_field
from loyalty.external_ids import EXTERNAL_ID_PATTERN
from merchants.api.schema import EXAMPLE


class _DetailsSerializer(serializers.Serializer):
    """Delivery details: each value, when given, a string without NUL characters. Which
    ones are required, their lengths and forms (an email address, a phone number or a
    postal code of the member's country) depend on the reward and the country: the
    service checks those, and refuses with 400 ``invalid_recipient`` naming each field."""

    default_error_messages = {"not_an_object": "An object with the delivery details."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_an_object")
        super().to_internal_value(data)
        return data  # the service reads what the reward needs from what was sent


def _detail(help_text: str = "") -> StrictCharField:
    return StrictCharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text=help_text
    )


class PostalAddressSerializer(_DetailsSerializer):
    name = _detail("Required; 120 characters at most, as every part.")
    line1 = _detail("Required.")
    line2 = _detail()
    city = _detail("Required.")
    region = _detail()
    postal_code = _detail(
        "Required, in the form of the member's country, except where the country has none "
        "(AE, HK, IE, QA)."
    )
    country = _detail("The member's country: a reward is delivered there only.")


class RecipientSerializer(_DetailsSerializer):
    email = _detail("An email address, for a reward delivered by email.")
    phone = _detail(
        "A number of the member's country, national or international (+14155550100), for a "
        f"reward that needs one; {PHONE_MAX_LENGTH} characters at most. Kept in E.164."
    )
    postal_address = PostalAddressSerializer(
        required=False, help_text="For a reward that is posted."
    )


class RedemptionInputSerializer(serializers.Serializer):
    external_id = StrictCharField(
        pattern=EXTERNAL_ID_PATTERN,
        pattern_message="Use 1 to 100 letters, digits or . _ : @ + = -",
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="The store's own id; posting it again replays the first result.",
    )
    member = external_id_field(help_text="The member's external_id.", example=EXAMPLE["member"])
    reward = StrictIntegerField(min_value=1, max_value=2**63 - 1)
    denomination = AmountField(
        positive=True,
        help_text="The face value, in the reward's face_currency: one of a fixed reward's "
        "values, or a step of a range (400 `invalid_denomination` otherwise).",
    )
    quantity = StrictIntegerField(min_value=1, max_value=10, default=1)
    recipient = RecipientSerializer(
        required=False,
        default=dict,
        help_text="What the reward's recipient_fields ask for: email, phone "
        "(+14155550100), postal_address {name, line1, line2, city, region, postal_code, "
        "country}.",
    )


class ClaimedCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    pin = serializers.CharField()
    claim_url = serializers.CharField()
    expires_on = serializers.DateField(allow_null=True)


class ClaimSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="The member's claim page (a signed, expiring link).")
    codes = ClaimedCodeSerializer(
        many=True,
        allow_null=True,
        help_text="The codes in clear: only from the detail endpoint (or the redeeming POST), "
        "and only for keys with the codes scope; always null in the list.",
    )


class RedemptionEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = RedemptionEvent
        fields = ["at", "field", "from_value", "to_value", "source", "note"]


class ShipmentSerializer(serializers.ModelSerializer):
    address = serializers.DictField(
        help_text="Where it goes (the address when the parcel was recorded)."
    )

    class Meta:
        model = Shipment
        fields = [
            "status",
            "carrier",
            "tracking_number",
            "tracking_url",
            "shipped_at",
            "delivered_at",
            "address",
        ]


class RedemptionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    member = serializers.CharField(source="member.external_id")
    reward = serializers.SerializerMethodField()
    events = RedemptionEventSerializer(many=True, read_only=True)
    points_spent = serializers.IntegerField(source="points_total")
    face_value = MoneyOutputField(currency="face_currency")
    claim = serializers.SerializerMethodField()
    shipment = serializers.SerializerMethodField()
    reissue_of = serializers.UUIDField(
        source="reissue_of.public_id",
        allow_null=True,
        read_only=True,
        help_text="The voided redemption this one replaces.",
    )
    reissued_as = serializers.SerializerMethodField(
        help_text="The redemption that replaced this one (when voided)."
    )

    class Meta:
        model = Redemption
        fields = [
            "id",
            "external_id",
            "member",
            "reward",
            "country",
            "face_value",
            "face_currency",
            "quantity",
            "points_each",
            "points_spent",
            "status",
            "delivery_status",
            "created_at",
            "delivered_at",
            "events",
            "claim",
            "shipment",
            "voided_at",
            "reissue_of",
            "reissued_as",
        ]

    @extend_schema_field(ClaimSerializer(allow_null=True))
    def get_claim(self, redemption: Redemption) -> dict | None:
        """How the member claims it, once delivered: the claim page, and the codes the
        view revealed (``context["revealed"]``: the redemption's id to its codes in
        clear, read through ``redemption_codes_reveal``, which records each reading).
        Rendering reveals nothing."""
        if redemption.status != RedemptionStatus.DELIVERED or redemption.voided_at:
            return None  # a voided reward's codes no longer count: see ``reissued_as``
        claim = {"url": claim_url(redemption, settings.PUBLIC_BASE_URL), "codes": None}
        revealed = self.context.get("revealed", {}).get(redemption.pk)
        if revealed is not None:
            claim["codes"] = [
                {
                    "code": clear.code,
                    "pin": clear.pin,
                    "claim_url": clear.claim_url,
                    "expires_on": clear.expires_on,
                }
                for clear in revealed
            ]
        return claim

    @extend_schema_field(ShipmentSerializer(allow_null=True))
    def get_shipment(self, redemption: Redemption) -> dict | None:
        """The latest parcel sent for it, for a physical reward: where it is and how to
        track it."""
        latest = next(iter(redemption.shipments.all()), None)  # newest first
        return ShipmentSerializer(latest).data if latest is not None else None

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_reissued_as(self, redemption: Redemption) -> str | None:
        replacement = getattr(redemption, "reissued_as", None)
        return str(replacement.public_id) if replacement is not None else None

    def get_reward(self, redemption: Redemption) -> dict:
        reward = redemption.reward
        return {"id": reward.pk, "slug": reward.slug, "name": reward.name, "type": reward.type}


class RedemptionListQuerySerializer(serializers.Serializer):
    member = external_id_field(help_text="The member's external_id.", example=EXAMPLE["member"])
