"""Platform webhooks as the platforms send them: a saved sample payload (see
``payloads/README.md``), signed with the store's secret, posted raw."""

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from core.actors import Actor
from integrations.signatures import body_signature
from loyalty.models import Member
from merchants.models import Merchant, Store
from merchants.services.stores import store_create

PAYLOADS = Path(__file__).parent / "payloads"
SYSTEM = Actor.system("tests")


def sample(path: str) -> dict[str, Any]:
    """A published sample payload (a fresh copy to change)."""
    return copy.deepcopy(json.loads((PAYLOADS / path).read_text()))


def connected_store(merchant: Merchant, platform: str, **settings: Any) -> tuple[Store, str]:
    store, secret = store_create(
        merchant=merchant,
        name=f"{platform.title()} shop",
        platform=platform,
        domain=f"{uuid.uuid4().hex[:8]}.{platform}.example",
        actor=SYSTEM,
    )
    if settings:
        for name, value in settings.items():
            setattr(store, name, value)
        store.save(update_fields=list(settings))
    return store, secret


def raw(body: dict[str, Any] | bytes) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def shopify_post(
    store: Store,
    secret: str | None,
    topic: str,
    body: dict[str, Any] | bytes,
    *,
    event_id: str | None = None,
    client: APIClient | None = None,
    **headers: str,
):
    data = raw(body)
    extra = {
        "HTTP_X_SHOPIFY_TOPIC": topic,
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": store.domain,
        "HTTP_X_SHOPIFY_API_VERSION": "2026-07",
        "HTTP_X_SHOPIFY_WEBHOOK_ID": str(uuid.uuid4()),
        "HTTP_X_SHOPIFY_EVENT_ID": event_id or str(uuid.uuid4()),
        "HTTP_X_SHOPIFY_TRIGGERED_AT": "2026-12-06T10:00:00.000000Z",
        **headers,
    }
    if secret is not None:
        extra["HTTP_X_SHOPIFY_HMAC_SHA256"] = body_signature(data, secret)
    return (client or APIClient()).post(
        reverse("api-shopify-webhooks", args=[store.public_id]),
        data,
        content_type="application/json",
        **extra,
    )


def woo_post(
    store: Store,
    secret: str | None,
    topic: str,
    body: dict[str, Any] | bytes,
    *,
    delivery_id: str | None = None,
    client: APIClient | None = None,
    **headers: str,
):
    data = raw(body)
    resource, _, event = topic.partition(".")
    extra = {
        "HTTP_X_WC_WEBHOOK_SOURCE": f"https://{store.domain}/",
        "HTTP_X_WC_WEBHOOK_TOPIC": topic,
        "HTTP_X_WC_WEBHOOK_RESOURCE": resource,
        "HTTP_X_WC_WEBHOOK_EVENT": event,
        "HTTP_X_WC_WEBHOOK_ID": "12",
        "HTTP_X_WC_WEBHOOK_DELIVERY_ID": delivery_id or uuid.uuid4().hex,
        **headers,
    }
    if secret is not None:
        extra["HTTP_X_WC_WEBHOOK_SIGNATURE"] = body_signature(data, secret)
    return (client or APIClient()).post(
        reverse("api-woocommerce-webhooks", args=[store.public_id]),
        data,
        content_type="application/json",
        **extra,
    )


def member_of(merchant: Merchant, external_id: object) -> Member:
    return Member.objects.get(merchant=merchant, external_id=str(external_id))
