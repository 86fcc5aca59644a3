"""The platforms' webhook endpoints. No API key: a delivery is authenticated by its
signature alone, with the store's webhook secret (or the one it replaced, for an hour).

The view verifies, stores the delivery in the inbox and answers 200 at once (Shopify gives
up after 5 seconds); a task processes it. A wrong or missing signature is a 401 that
stores nothing: it is logged and counted against the sender's address, which the failed
authentications budget of the store API throttles (429) like a bad key.
"""

import logging
import uuid

from django.core.exceptions import RequestDataTooBig
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import PayloadTooLarge
from core.exceptions import NotFound
from integrations import services, shopify, woocommerce
from integrations.signatures import signature_matches
from merchants.api.schema import Problem, problems
from merchants.api.throttling import auth_failure_record, auth_failures_check, client_address
from merchants.models import Platform, Store
from merchants.selectors import store_webhook_secrets

logger = logging.getLogger("integrations.webhooks")

INVALID_SIGNATURE = Problem(
    401, "invalid_signature", "The signature is missing or does not match the body."
)
INVALID_DELIVERY = Problem(
    400,
    "invalid_delivery",
    "The delivery lacks its topic or delivery id header, or its body is not a JSON object.",
)
UNKNOWN_STORE = Problem(404, "not_found", "No active store of this platform has that id.")
TOO_LARGE = Problem(413, "request_too_large", "The request body is too large.")


class InvalidSignature(exceptions.AuthenticationFailed):
    default_detail = INVALID_SIGNATURE.meaning
    default_code = "invalid_signature"


class InvalidDelivery(exceptions.APIException):
    status_code = 400
    default_detail = INVALID_DELIVERY.meaning
    default_code = "invalid_delivery"


class AcceptedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["accepted", "duplicate", "pong"],
        help_text="`accepted`: stored, to be processed; `duplicate`: this delivery id was "
        "received before; `pong`: a WooCommerce ping, answered and not stored.",
    )
    delivery_id = serializers.CharField(required=False)


class PlatformWebhookView(APIView):
    platform: str = ""
    module = shopify
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()
    parser_classes = ()

    def get_authenticate_header(self, request: Request) -> str:
        return 'HMAC-SHA256 realm="webhooks"'

    def _store(self, store_public_id: str) -> Store:
        try:
            public_id = uuid.UUID(store_public_id)
        except ValueError:
            raise NotFound("No active store of this platform has that id.", field="store") from None
        store = (
            Store.objects.select_related("merchant")
            .filter(public_id=public_id, platform=self.platform, is_active=True)
            .first()
        )
        if store is None:
            raise NotFound("No active store of this platform has that id.", field="store")
        return store

    def post(self, request: Request, store_public_id: str) -> Response:
        address = client_address(request)
        auth_failures_check(address=address)
        try:
            body = request._request.body
        except RequestDataTooBig:
            raise PayloadTooLarge() from None
        try:
            store = self._store(store_public_id)
        except NotFound:
            auth_failure_record(address=address)
            raise
        content_type = request.headers.get("Content-Type", "")
        module = self.module
        signature = request.headers.get(module.SIGNATURE_HEADER)
        if signature is None and module is woocommerce and woocommerce.is_ping(body, content_type):
            return Response({"status": "pong"})
        secrets = store_webhook_secrets(store=store, at=timezone.now())
        if not signature or not signature_matches(body, signature, secrets):
            auth_failure_record(address=address)
            logger.warning(
                "Webhook refused: bad signature (store %s, platform %s, topic %r, from %s)",
                store.public_id,
                self.platform,
                (request.headers.get(module.TOPIC_HEADER) or "")[:100],
                address,
            )
            raise InvalidSignature()
        topic = (request.headers.get(module.TOPIC_HEADER) or "").strip()
        delivery_id = next(
            (v.strip() for h in module.DELIVERY_HEADERS if (v := request.headers.get(h))), ""
        )
        if not topic or len(topic) > 100:
            raise InvalidDelivery(f"The {module.TOPIC_HEADER} header is missing.")
        if not delivery_id or len(delivery_id) > 200:
            raise InvalidDelivery(f"The {module.DELIVERY_HEADERS[0]} header is missing.")
        text = services.body_text(body)
        if text is None:
            raise InvalidDelivery("The body is not a JSON object.")
        delivery, created = services.inbox_receive(
            store=store,
            topic=topic,
            delivery_id=delivery_id,
            headers={
                h: request.headers[h][:200] for h in module.KEPT_HEADERS if h in request.headers
            },
            body=text,
        )
        return Response(
            {
                "status": "accepted" if created else "duplicate",
                "delivery_id": delivery.delivery_id,
            },
            status=status.HTTP_200_OK,
        )


def _schema(platform: str, signature: str, delivery: str, topics: str):
    return extend_schema(
        summary=f"Receive a {platform} webhook",
        description=f"The URL to give {platform} for the store's webhooks. No API key: the "
        f"delivery is authenticated by `{signature}`, the base64 HMAC-SHA256 of the raw body "
        "with the store's webhook secret (the secret it replaced still verifies for an hour "
        f"after a rotation). Deliveries are de-duplicated by `{delivery}`, stored, answered "
        f"at once and processed in the background. Topics used: {topics}; any other topic "
        "is stored and ignored.",
        parameters=[
            OpenApiParameter(
                "store_public_id",
                {"type": "string", "format": "uuid"},
                OpenApiParameter.PATH,
                description="The store's public id, shown on its connection page.",
            )
        ],
        request={"application/json": {"type": "object", "additionalProperties": True}},
        responses={
            200: OpenApiResponse(AcceptedSerializer, description="Stored, or seen before."),
            **problems(INVALID_SIGNATURE, INVALID_DELIVERY, UNKNOWN_STORE, TOO_LARGE),
        },
        tags=["integrations"],
        auth=[],
    )


class ShopifyWebhookView(PlatformWebhookView):
    platform = Platform.SHOPIFY
    module = shopify

    @_schema(
        "Shopify",
        shopify.SIGNATURE_HEADER,
        "X-Shopify-Event-Id",
        "`orders/create`, `orders/paid`, `orders/updated`, `orders/fulfilled`, "
        "`orders/cancelled`, `refunds/create`, `customers/create`, `customers/update`, "
        "`customers/data_request`, `customers/redact`, `shop/redact`",
    )
    def post(self, request: Request, store_public_id: str) -> Response:
        return super().post(request, store_public_id)


class WooCommerceWebhookView(PlatformWebhookView):
    platform = Platform.WOOCOMMERCE
    module = woocommerce

    @_schema(
        "WooCommerce",
        woocommerce.SIGNATURE_HEADER,
        "X-WC-Webhook-Delivery-ID",
        "`order.created`, `order.updated` (refunds arrive as updates), `customer.created`, "
        "`customer.updated`; the unsigned ping WooCommerce sends when a webhook is saved "
        "(`webhook_id=N`, form-encoded) gets a 200 and is not stored",
    )
    def post(self, request: Request, store_public_id: str) -> Response:
        return super().post(request, store_public_id)
