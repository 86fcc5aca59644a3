from rest_framework import serializers

from fulfillment.models import Redemption, RedemptionEvent
from loyalty.api.serializers import external_id_field
from loyalty.external_ids import EXTERNAL_ID_PATTERN


class RedemptionInputSerializer(serializers.Serializer):
    external_id = serializers.RegexField(
        EXTERNAL_ID_PATTERN,
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="The store's own id; posting it again replays the first result.",
    )
    member = external_id_field(help_text="The member's external_id.")
    reward = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    denomination = serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        min_value=0,
        help_text="The face value: one of a fixed reward's values, or any step of a range.",
    )
    quantity = serializers.IntegerField(min_value=1, max_value=10, default=1)
    recipient = serializers.DictField(
        required=False,
        default=dict,
        help_text="What the reward's recipient_fields ask for: email, phone (+14155550100), "
        "postal_address {name, line1, line2, city, region, postal_code, country}.",
    )


class RedemptionEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = RedemptionEvent
        fields = ["at", "field", "from_value", "to_value", "source", "note"]


class RedemptionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    member = serializers.CharField(source="member.external_id")
    reward = serializers.SerializerMethodField()
    events = RedemptionEventSerializer(many=True, read_only=True)
    points_spent = serializers.IntegerField(source="points_total")

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
        ]

    def get_reward(self, redemption: Redemption) -> dict:
        reward = redemption.reward
        return {"id": reward.pk, "slug": reward.slug, "name": reward.name, "type": reward.type}


class RedemptionListQuerySerializer(serializers.Serializer):
    member = external_id_field(help_text="The member's external_id.")
