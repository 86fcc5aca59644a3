from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from merchants.api.serializers import MerchantSerializer
from merchants.models import Merchant, MerchantAPIKey


class MerchantAPIView(APIView):
    """Base for every store API view: ``self.merchant`` is the key's merchant, and every
    query a view makes starts from it."""

    @property
    def api_key(self) -> MerchantAPIKey:
        return self.request.auth

    @property
    def merchant(self) -> Merchant:
        return self.request.auth.merchant


class MerchantView(MerchantAPIView):
    allow_inactive_merchant = True

    @extend_schema(
        summary="The merchant this key belongs to",
        description="Lets an integrator check their key: the merchant, its status, its "
        "currency, and the key's own prefix and scopes. Answers for every onboarding status.",
        responses=MerchantSerializer,
        examples=[
            OpenApiExample(
                "A live merchant",
                value={
                    "name": "Northwind Outfitters",
                    "slug": "northwind",
                    "status": "live",
                    "country": "US",
                    "default_currency": "USD",
                    "timezone": "America/New_York",
                    "api_key": {"prefix": "Ab12Cd34", "scopes": ["read", "write"], "store": None},
                },
                response_only=True,
            )
        ],
        tags=["merchant"],
    )
    def get(self, request: Request) -> Response:
        return Response(MerchantSerializer(self.merchant, context={"api_key": self.api_key}).data)
