from rest_framework import serializers

from catalog.models import RewardType
from loyalty.api.serializers import external_id_field
from merchants.api.schema import EXAMPLE

MAX_POINTS = 10**12


class RewardQuerySerializer(serializers.Serializer):
    member = external_id_field(help_text="The member's external_id.", example=EXAMPLE["member"])
    # In a query an empty value is no value: ?type= lists every type.
    type = serializers.ChoiceField(choices=RewardType.choices, required=False, allow_blank=True)
    category = serializers.SlugField(required=False, allow_blank=True, max_length=80)
    min_points = serializers.IntegerField(required=False, min_value=0, max_value=MAX_POINTS)
    max_points = serializers.IntegerField(required=False, min_value=0, max_value=MAX_POINTS)

    def validate(self, attrs: dict) -> dict:
        attrs = {name: value for name, value in attrs.items() if value != ""}
        low, high = attrs.get("min_points"), attrs.get("max_points")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"max_points": "Below min_points."})
        return attrs


class RewardMemberQuerySerializer(serializers.Serializer):
    member = external_id_field(help_text="The member's external_id.", example=EXAMPLE["member"])


class FileURLField(serializers.CharField):
    """A file's absolute URL on this site (the request in the context says which), or
    null when there is no file."""

    def to_representation(self, value) -> str | None:
        if not value:
            return None
        return self.context["request"].build_absolute_uri(value.url)


class DenominationSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="Face value, in face_currency.")
    points = serializers.IntegerField()
    affordable = serializers.BooleanField()


class RangeSerializer(serializers.Serializer):
    min = serializers.CharField()
    max = serializers.CharField()
    step = serializers.CharField()
    points_per_unit = serializers.CharField(help_text="Before rounding to the price step.")
    min_points = serializers.IntegerField()
    max_points = serializers.IntegerField()


class BrandSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    terms = serializers.CharField()
    disclaimer = serializers.CharField()
    redemption_instructions = serializers.CharField()
    logo = FileURLField(allow_null=True)
    card_image = FileURLField(allow_null=True)


class LimitsSerializer(serializers.Serializer):
    per_month = serializers.IntegerField(allow_null=True, source="limit_per_month")
    ever = serializers.IntegerField(allow_null=True, source="limit_ever")


# Renders a catalog.selectors.MemberReward (priced by member_rewards); texts come in the
# language active while ``data`` is read.
class MemberRewardSerializer(serializers.Serializer):
    """One reward as a member sees it, with its point prices."""

    id = serializers.IntegerField(source="item.reward_id")
    slug = serializers.CharField(source="item.reward.slug")
    type = serializers.ChoiceField(choices=RewardType.choices, source="item.reward.type")
    name = serializers.CharField(source="item.reward.name")
    description = serializers.CharField(source="item.reward.description")
    terms = serializers.CharField(source="item.reward.terms")
    image = FileURLField(allow_null=True, source="item.reward.image")
    brand = BrandSerializer(source="item.reward.brand")
    categories = serializers.ListField(child=serializers.CharField())
    face_currency = serializers.CharField(source="item.reward.face_currency")
    denomination_kind = serializers.ChoiceField(choices=["fixed", "range"], source="rule.kind")
    denominations = DenominationSerializer(many=True, help_text="Fixed values and prices.")
    range = RangeSerializer(allow_null=True, help_text="For a range reward.")
    min_points = serializers.IntegerField()
    max_points = serializers.IntegerField()
    affordable = serializers.BooleanField(help_text="The member can afford its lowest price.")
    recipient_fields = serializers.ListField(
        child=serializers.CharField(), source="item.reward.recipient_fields"
    )
    delivered_expiry_months = serializers.IntegerField(
        allow_null=True, source="item.reward.delivered_expiry_months"
    )
    limits = LimitsSerializer(source="item")
