from decimal import Decimal

from rest_framework import serializers

from catalog import denominations, pricing
from catalog.models import MerchantCatalogItem, RewardType
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
    logo = serializers.CharField(allow_null=True)
    card_image = serializers.CharField(allow_null=True)


class LimitsSerializer(serializers.Serializer):
    per_month = serializers.IntegerField(allow_null=True)
    ever = serializers.IntegerField(allow_null=True)


class MemberRewardSerializer(serializers.Serializer):
    """The schema of one reward as a member sees it (built by ``member_reward``)."""

    id = serializers.IntegerField()
    slug = serializers.CharField()
    type = serializers.ChoiceField(choices=RewardType.choices)
    name = serializers.CharField()
    description = serializers.CharField()
    terms = serializers.CharField()
    image = serializers.CharField(allow_null=True)
    brand = BrandSerializer()
    categories = serializers.ListField(child=serializers.CharField())
    face_currency = serializers.CharField()
    denomination_kind = serializers.ChoiceField(choices=["fixed", "range"])
    denominations = DenominationSerializer(many=True, help_text="Fixed values and prices.")
    range = RangeSerializer(allow_null=True, help_text="For a range reward.")
    min_points = serializers.IntegerField()
    max_points = serializers.IntegerField()
    affordable = serializers.BooleanField(help_text="The member can afford its lowest price.")
    recipient_fields = serializers.ListField(child=serializers.CharField())
    delivered_expiry_months = serializers.IntegerField(allow_null=True)
    limits = LimitsSerializer()


def _url(request, field) -> str | None:
    return request.build_absolute_uri(field.url) if field else None


def member_reward(item: MerchantCatalogItem, *, balance: int, request, terms=None) -> dict:
    """One reward as the member sees it. ``terms``: the program's current price terms
    when they differ from those the stored prices were computed with (the point value
    changed and the scheduled repricing has not run yet); prices are then recomputed."""
    reward = item.reward
    brand = reward.brand
    rule = denominations.of_reward(reward)
    prices = item.prices
    per_unit = item.points_per_unit
    if terms is not None:
        computed = pricing.item_prices(
            rule,
            terms,
            fixed_prices=item.fixed_prices or None,
            fixed_points_per_unit=item.fixed_points_per_unit,
        )
        prices, per_unit = computed.prices, computed.points_per_unit
    low, high = min(prices.values()), max(prices.values())
    fixed = rule.kind == "fixed"
    return {
        "id": reward.pk,
        "slug": reward.slug,
        "type": reward.type,
        "name": reward.name,
        "description": reward.description,
        "terms": reward.terms,
        "image": _url(request, reward.image),
        "brand": {
            "slug": brand.slug,
            "name": brand.name,
            "description": brand.description,
            "terms": brand.terms,
            "disclaimer": brand.disclaimer,
            "redemption_instructions": brand.redemption_instructions,
            "logo": _url(request, brand.logo),
            "card_image": _url(request, brand.card_image),
        },
        "categories": [category.slug for category in brand.categories.all()],
        "face_currency": reward.face_currency,
        "denomination_kind": rule.kind,
        "denominations": [
            {"value": value, "points": points, "affordable": points <= balance}
            for value, points in prices.items()
        ]
        if fixed
        else [],
        "range": None
        if fixed
        else {
            "min": denominations.canonical(rule.minimum, rule.currency),
            "max": denominations.canonical(rule.maximum, rule.currency),
            "step": denominations.canonical(rule.step, rule.currency),
            "points_per_unit": f"{Decimal(per_unit).quantize(Decimal('1e-4')):f}",
            "min_points": low,
            "max_points": high,
        },
        "min_points": low,
        "max_points": high,
        "affordable": low <= balance,
        "recipient_fields": list(reward.recipient_fields),
        "delivered_expiry_months": reward.delivered_expiry_months,
        "limits": {"per_month": item.limit_per_month, "ever": item.limit_ever},
    }
