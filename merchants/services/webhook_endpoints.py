"""A merchant's outbound webhook endpoints, managed by its owners in the portal and by
Operations in the admin: added and changed (behind the SSRF guard), disabled and enabled,
their secrets rotated; a delivery replayed, a test event sent."""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.actors import Actor, actor_user
from core.exceptions import InvalidTransition, ReasonRequired
from merchants.exceptions import UnknownEventType, UnsafeWebhookURL
from merchants.models import (
    TEST_EVENT,
    DeliveryStatus,
    EndpointStatus,
    Merchant,
    MerchantEvent,
    OutboxEvent,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
    webhook_secret_new,
)
from merchants.services.history import merchant_event_record
from merchants.services.outbox import webhooks_live_mark
from merchants.webhooks.address import url_target


def _clean_event_types(event_types: list[str] | tuple[str, ...]) -> list[str]:
    chosen = sorted(set(event_types or []))
    unknown = [name for name in chosen if name not in WebhookEventType.values]
    if unknown:
        raise UnknownEventType(f"Unknown event type(s): {', '.join(unknown)}.", field="event_types")
    if not chosen:
        raise UnknownEventType("Choose at least one event type.", field="event_types")
    return chosen


def _clean_endpoint(endpoint: WebhookEndpoint) -> None:
    endpoint.url = (endpoint.url or "").strip()
    if len(endpoint.url) > 500:
        raise UnsafeWebhookURL("Use a URL of at most 500 characters.", field="url")
    url_target(endpoint.url)
    endpoint.description = (endpoint.description or "").strip()[:200]
    endpoint.event_types = _clean_event_types(endpoint.event_types)


def _endpoint_event(endpoint: WebhookEndpoint, what: str, actor: Actor) -> None:
    merchant_event_record(
        merchant=endpoint.merchant,
        kind=MerchantEvent.Kind.WEBHOOK_ENDPOINT_CHANGED,
        reason=f"{endpoint.url}: {what}",
        actor=actor,
    )


def _endpoints_live_refresh(merchant_id: int) -> None:
    live = WebhookEndpoint.objects.filter(
        merchant_id=merchant_id, status=EndpointStatus.ACTIVE
    ).exists()

    def mark() -> None:
        if live:
            webhooks_live_mark(merchant_ids_live={merchant_id})
        else:
            webhooks_live_mark(merchant_ids_live=set(), merchant_ids_idle={merchant_id})

    transaction.on_commit(mark)


@transaction.atomic
def webhook_endpoint_create(
    *,
    merchant: Merchant,
    url: str,
    event_types: list[str],
    description: str = "",
    actor: Actor,
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint; returns it with its secret, shown to the owner this once.
    The URL must pass the SSRF guard (``UnsafeWebhookURL`` on ``url``). The endpoint hears
    of the events written from now on."""
    secret = webhook_secret_new()
    endpoint = WebhookEndpoint(
        merchant=merchant,
        url=url,
        description=description,
        event_types=list(event_types or []),
        secret=secret,
        created_by=actor_user(actor),
    )
    _clean_endpoint(endpoint)
    endpoint.save()
    _endpoint_event(endpoint, "added", actor)
    _endpoints_live_refresh(merchant.pk)
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str,
    event_types: list[str],
    description: str = "",
    actor: Actor,
) -> WebhookEndpoint:
    """Change an endpoint's URL, description or event types (checked as on creation)."""
    before = (endpoint.url, endpoint.description, list(endpoint.event_types))
    endpoint.url, endpoint.description, endpoint.event_types = url, description, event_types
    _clean_endpoint(endpoint)
    after = (endpoint.url, endpoint.description, list(endpoint.event_types))
    if after == before:
        return endpoint
    endpoint.save(update_fields=["url", "description", "event_types", "updated_at"])
    changed = [
        name
        for name, old, new in zip(("URL", "description", "event types"), before, after, strict=True)
        if old != new
    ]
    _endpoint_event(endpoint, "changed " + ", ".join(changed), actor)
    return endpoint


def webhook_endpoint_disable(
    *, endpoint: WebhookEndpoint, reason: str, actor: Actor
) -> WebhookEndpoint:
    """Stop sending to the endpoint: its pending deliveries are given up (a replay sends
    one again once it is enabled). Disabling a disabled endpoint changes nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the endpoint is disabled.", field="reason")
    now = timezone.now()
    with transaction.atomic():
        moved = WebhookEndpoint.objects.filter(pk=endpoint.pk, status=EndpointStatus.ACTIVE).update(
            status=EndpointStatus.DISABLED,
            disabled_reason=reason[:300],
            disabled_at=now,
            updated_at=now,
        )
        if moved:
            WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.FAILED,
                next_attempt_at=None,
                last_error="The endpoint was disabled.",
            )
            _endpoint_event(endpoint, f"disabled ({reason[:200]})", actor)
            _endpoints_live_refresh(endpoint.merchant_id)
    endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def webhook_endpoint_enable(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEndpoint:
    """Send to a disabled endpoint again, from the events written from now on (a replay
    sends earlier ones); its run of failures starts afresh."""
    now = timezone.now()
    moved = WebhookEndpoint.objects.filter(pk=endpoint.pk, status=EndpointStatus.DISABLED).update(
        status=EndpointStatus.ACTIVE,
        disabled_reason="",
        disabled_at=None,
        failing_since=None,
        updated_at=now,
    )
    if moved:
        _endpoint_event(endpoint, "enabled", actor)
        _endpoints_live_refresh(endpoint.merchant_id)
    endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint, actor: Actor) -> str:
    """A new signing secret, returned to be shown once. For ``WEBHOOKS_SECRET_OVERLAP`` the
    requests carry a signature with the previous secret too, so the receiver can switch
    without refusing any."""
    secret = webhook_secret_new()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + datetime.timedelta(
        hours=settings.WEBHOOKS_SECRET_OVERLAP_HOURS
    )
    endpoint.secret = secret
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    _endpoint_event(endpoint, "secret rotated", actor)
    return secret


def webhook_delivery_may_replay(*, delivery: WebhookDelivery) -> bool:
    """Whether a delivery may be sent again: one that is not waiting to be sent, to an
    active endpoint."""
    return delivery.status != DeliveryStatus.PENDING and delivery.endpoint.is_active


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Send a delivered or given-up event again, now, with a fresh retry schedule and the
    same ``webhook-id`` (a receiver that has it already may skip it). A replay is out of
    the member's order by intent: it waits for nothing and holds back nothing."""
    if not webhook_delivery_may_replay(delivery=delivery):
        raise InvalidTransition(
            "Only a delivered or given-up event to an active endpoint can be sent again.",
            field="delivery",
        )
    now = timezone.now()
    moved = WebhookDelivery.objects.filter(pk=delivery.pk, status=delivery.status).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now, replayed_at=now, last_error=""
    )
    if not moved:
        raise InvalidTransition("The delivery changed meanwhile; try again.", field="delivery")
    _endpoint_event(delivery.endpoint, f"event {delivery.event_id} replayed", actor)
    _delivery_send_when_committed(delivery.pk)
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def webhook_test_send(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookDelivery:
    """A ``webhook.test`` event to this endpoint alone, sent once this commits."""
    if not endpoint.is_active:
        raise InvalidTransition("Enable the endpoint first.", field="endpoint")
    now = timezone.now()
    event = OutboxEvent.objects.create(
        merchant_id=endpoint.merchant_id,
        type=TEST_EVENT,
        payload={"message": "A test event: your endpoint receives and verifies webhooks."},
        occurred_at=now,
        dispatched_at=now,
    )
    delivery = WebhookDelivery.objects.create(
        merchant_id=endpoint.merchant_id, endpoint=endpoint, event=event, next_attempt_at=now
    )
    _delivery_send_when_committed(delivery.pk)
    return delivery


def _delivery_send_when_committed(delivery_id: int) -> None:
    from merchants.tasks import deliver_webhook

    transaction.on_commit(lambda: deliver_webhook.delay(delivery_id), robust=True)
