from django.db import models

from merchants.models.tenant import Merchant


class OutboxEvent(models.Model):
    """Something the merchant's own systems should hear of (``segment.joined``,
    ``points.earned``...), written in the same transaction as the change it reports, so a
    change that rolls back reports nothing and a committed one is never lost. Outbound
    webhooks deliver these rows in ``id`` order.

    ``subject`` names what the event is about in the merchant's own terms (a member's
    ``external_id``); ``payload`` holds the rest of the event's data."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=60)
    subject = models.CharField(max_length=128, blank=True)
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["merchant", "id"], name="outbox_merchant_order"),
            models.Index(fields=["merchant", "subject", "id"], name="outbox_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.subject}"
