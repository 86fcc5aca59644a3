"""Reads of webhook endpoints and their log, always through the merchant."""

from django.db.models import QuerySet

from core.exceptions import NotFound
from merchants.models import Merchant, WebhookAttempt, WebhookDelivery, WebhookEndpoint

LOG_SIZE = 50


def webhook_endpoint_list(*, merchant: Merchant) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(merchant=merchant).order_by("pk")


def webhook_endpoint_get(*, merchant: Merchant, pk: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(merchant=merchant, pk=pk).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.", field="endpoint")
    return endpoint


def webhook_attempt_list(*, endpoint: WebhookEndpoint, limit: int = LOG_SIZE) -> list:
    """The endpoint's latest attempts, newest first, with their deliveries and events."""
    return list(
        WebhookAttempt.objects.filter(endpoint=endpoint)
        .select_related("delivery__event", "delivery__endpoint")
        .order_by("-pk")[:limit]
    )


def webhook_deliveries_of(
    *, endpoint: WebhookEndpoint, pks: list[int]
) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries among ``pks`` (others' are simply not there)."""
    return WebhookDelivery.objects.filter(endpoint=endpoint, pk__in=pks).select_related("endpoint")
