from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from merchants.models import Merchant


class APIKeySummarySerializer(serializers.Serializer):
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    store = serializers.UUIDField(source="store.public_id", allow_null=True, default=None)


class MerchantSerializer(serializers.ModelSerializer):
    country = serializers.CharField(source="country.code")
    timezone = serializers.CharField()
    api_key = serializers.SerializerMethodField()

    class Meta:
        model = Merchant
        fields = ["name", "slug", "status", "country", "default_currency", "timezone", "api_key"]

    @extend_schema_field(APIKeySummarySerializer)
    def get_api_key(self, obj: Merchant) -> dict:
        return APIKeySummarySerializer(self.context["api_key"]).data
