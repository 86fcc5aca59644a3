"""Outbound webhooks: the merchant's endpoints, one delivery per (event, endpoint) and a
log row per attempt.

The event types are listed once, here (``WebhookEventType``): a feature that publishes
a new kind of event adds it to this list, and the portal's and the admin's forms offer
it from there. ``webhook.test`` is not among them: it is sent on request to one endpoint
and nobody subscribes to it.
"""

import base64
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.fields import EncryptedTextField
from merchants.models.outbox import OutboxEvent
from merchants.models.tenant import Merchant

SECRET_PREFIX = "whsec_"
# Standard Webhooks: the secret is 24 to 64 random bytes; 32 is Svix's own choice.
SECRET_BYTES = 32
TEST_EVENT = "webhook.test"


class WebhookEventType(models.TextChoices):
    MEMBER_CREATED = "member.created", "A member joined"
    MEMBER_UPDATED = "member.updated", "A member's profile changed"
    POINTS_EARNED = "points.earned", "Points earned"
    POINTS_SPENT = "points.spent", "Points spent"
    POINTS_EXPIRING = "points.expiring", "Points about to expire"
    POINTS_EXPIRED = "points.expired", "Points expired"
    POINTS_RELEASED = "points.released", "Pending points became spendable"
    POINTS_REVERSED = "points.reversed", "Points taken back for a refund"
    POINTS_RETURNED = "points.returned", "Spent points given back"
    TIER_CHANGED = "tier.changed", "Tier changed"
    SEGMENT_JOINED = "segment.joined", "Joined a segment"
    SEGMENT_LEFT = "segment.left", "Left a segment"
    REDEMPTION_CREATED = "redemption.created", "Reward redeemed"
    REDEMPTION_DELIVERED = "redemption.delivered", "Reward delivered"
    REDEMPTION_REFUNDED = "redemption.refunded", "Redemption refunded"
    TICKET_REPLIED = "ticket.replied", "Care replied to a ticket"


def webhook_secret_new() -> str:
    """``whsec_`` and the base64 of 32 random bytes, as Standard Webhooks defines it."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class EndpointStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"


class WebhookEndpoint(models.Model):
    """A URL of the merchant's own systems that hears of the event types it chose.

    The secret signs every request (``webhook-signature``); after a rotation the previous
    one signs too until ``previous_secret_expires_at``, so the receiver can switch without
    losing a request. ``failing_since`` is when the endpoint's current run of failures
    began (cleared by a success): five days of it disable the endpoint."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list)
    status = models.CharField(
        max_length=10, choices=EndpointStatus.choices, default=EndpointStatus.ACTIVE
    )
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    secret = EncryptedTextField(editable=False, help_text="Signs the requests. Encrypted.")
    previous_secret = EncryptedTextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant_id", "id"]
        indexes = [models.Index(fields=["merchant", "status"], name="webhook_endpoint_status")]
        permissions = [
            ("replay_webhookdelivery", "Can replay webhook deliveries and send test events"),
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def is_active(self) -> bool:
        return self.status == EndpointStatus.ACTIVE

    def wants(self, event_type: str) -> bool:
        return event_type in (self.event_types or [])


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Given up"


class WebhookDelivery(models.Model):
    """One event to one endpoint: the unit the senders claim.

    ``next_attempt_at`` is when a pending delivery is due; a sender that claims it pushes
    it a lease ahead, so another sender leaves it alone while the request is out, and a
    sender that dies leaves it due again once the lease ends. ``subject`` repeats the
    event's (the member's ``external_id``) for the per-member order: a delivery waits
    while an earlier event of its subject to its endpoint is pending."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    subject = models.CharField(max_length=128, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # A replay re-sends an event out of its order on purpose: it never holds back others.
    replayed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["endpoint", "subject", "event"],
                name="webhook_delivery_order",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_log"),
            # The ops home's failing deliveries (merchants.queues.deliveries_failing).
            models.Index(
                fields=["id"],
                name="webhook_delivery_failing",
                condition=Q(status="failed") | Q(status="pending", attempts__gt=0),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One request of a delivery, as sent and as answered (the first 2 kB of the answer)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    url = models.URLField(max_length=500)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)
    attempted_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["endpoint", "-id"], name="webhook_attempt_log")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.response_status or self.error}"
