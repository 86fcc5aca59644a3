"""The inbox of platform webhooks: every verified delivery from a store's platform is a row
first, answered at once, and processed by a task after.

A delivery is unique per store by the platform's delivery id (``X-Shopify-Event-Id``,
``X-WC-Webhook-Delivery-ID``): the platform's retries of one event meet the unique
constraint and add nothing. Its status moves received → processed, ignored (with why) or
failed (with the error); a replay by staff runs the same processing again, which is
idempotent because every effect is keyed by the platform's own ids (an order's id, a
refund's id).
"""

from django.db import models
from django.utils import timezone

from merchants.models import Merchant, Platform, Store


class InboxStatus(models.TextChoices):
    RECEIVED = "received", "Waiting"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"


class InboxDelivery(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="inbox")
    platform = models.CharField(max_length=20, choices=Platform.choices)
    topic = models.CharField(max_length=100)
    delivery_id = models.CharField(max_length=200)
    # The headers that matter (topic, ids, times, API version), never the signature.
    headers = models.JSONField(default=dict)
    body = models.TextField()
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=InboxStatus.choices, default=InboxStatus.RECEIVED
    )
    outcome = models.TextField(blank=True, help_text="What processing did, or why not.")
    # What the delivery touched, by the store's ids: {"order": "…", "refunds": […], …}.
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "inbox delivery"
        verbose_name_plural = "inbox deliveries"
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "delivery_id"], name="inbox_delivery_unique_per_store"
            ),
        ]
        indexes = [
            models.Index(fields=["store", "-received_at"], name="inbox_store_recent"),
            models.Index(fields=["merchant", "-received_at"], name="inbox_merchant_recent"),
            # The sweeper: deliveries still waiting.
            models.Index(
                fields=["received_at"],
                name="inbox_waiting",
                condition=models.Q(status="received"),
            ),
        ]
        permissions = [("replay_inboxdelivery", "Can process an inbox delivery again")]

    def __str__(self) -> str:
        return f"{self.topic} {self.delivery_id}"
