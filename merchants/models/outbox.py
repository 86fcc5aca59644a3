from django.db import models
from django.db.models import Q

from merchants.models.tenant import Merchant


class OutboxEvent(models.Model):
    """Something the merchant's own systems should hear of (``segment.joined``,
    ``points.earned``...), written in the same transaction as the change it reports, so a
    change that rolls back reports nothing and a committed one is never lost. Outbound
    webhooks deliver these rows (``merchants.webhooks``); every writer goes through
    ``merchants.services.outbox.event_publish`` except the segment refresh, which inserts
    its rows set-based with the same columns.

    ``subject`` names what the event is about in the merchant's own terms: a member's
    ``external_id`` for every member event (the delivered body's ``data.member`` comes
    from it), empty otherwise; ``payload`` holds the rest of the event's data. The row's
    ``id`` is the event's ``sequence``: a member's events are written under the member's
    row lock, so their ids grow in the order the changes happened.

    ``dedupe_key`` (optional, unique per merchant) makes an announcement once only (a lot
    about to expire). ``dispatched_at`` is set once the event has its deliveries, one per
    subscribed endpoint; the rows still without it are the dispatcher's queue."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=60)
    subject = models.CharField(max_length=128, blank=True)
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    # NULL, not "": most events have no key, and only keys must be unique.
    dedupe_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "dedupe_key"],
                name="outbox_dedupe_once",
                condition=Q(dedupe_key__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "id"], name="outbox_merchant_order"),
            models.Index(fields=["merchant", "subject", "id"], name="outbox_subject"),
            models.Index(
                fields=["id"], name="outbox_undispatched", condition=Q(dispatched_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.subject}"


class OutboxPurgeMark(models.Model):
    """The latest of a merchant's outbox events (its id: the changes feed's cursor) that
    the retention job deleted; a feed cursor before it may have missed changes. A table
    of its own rather than a column of ``Merchant``: SQLite rebuilds a table to add a
    column, which the triggers that point at the merchants table refuse."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    purged_through = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"events of {self.merchant_id} deleted through {self.purged_through}"
