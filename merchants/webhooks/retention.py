"""How long outbox events are kept: ``WEBHOOK_EVENT_RETENTION_DAYS`` (35 by default).

The daily job deletes the events older than that, with their deliveries and attempts (the
delivery log), a batch of ids per transaction, so neither a table nor a transaction grows
without end. An event with a delivery still being retried stays until it is delivered or
given up. Each merchant keeps the id of the latest event deleted
(``OutboxPurgeMark``): the changes feed refuses a cursor before it, since
changes after that cursor may be gone, and the CRM starts again from a full export.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Greatest

from merchants.models import (
    DeliveryStatus,
    OutboxEvent,
    OutboxPurgeMark,
    WebhookAttempt,
    WebhookDelivery,
)

BATCH = 5000


@dataclass(frozen=True)
class Purged:
    events: int
    deliveries: int
    attempts: int

    def __str__(self) -> str:
        return (
            f"{self.events} event(s), {self.deliveries} deliveries and {self.attempts} "
            "attempt(s) deleted"
        )


def outbox_purge(
    *, now: datetime.datetime, batch_size: int = BATCH, merchant_id: int | None = None
) -> Purged:
    """Delete the events past the retention period that nothing still waits to deliver,
    with their deliveries and attempts; a batch per transaction; one merchant's only with
    ``merchant_id``."""
    cutoff = now - datetime.timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)
    waiting = WebhookDelivery.objects.filter(event=OuterRef("pk"), status=DeliveryStatus.PENDING)
    old = OutboxEvent.objects.filter(created_at__lt=cutoff)
    if merchant_id is not None:
        old = old.filter(merchant_id=merchant_id)
    events = deliveries = attempts = 0
    after = 0
    while True:
        with transaction.atomic():
            rows = list(
                old.filter(id__gt=after)
                .exclude(Exists(waiting))
                .order_by("id")
                .values_list("id", "merchant_id")[:batch_size]
            )
            if not rows:
                break
            ids = [pk for pk, _ in rows]
            after = ids[-1]
            latest = {merchant_id: pk for pk, merchant_id in rows}  # ids ascend: the last wins
            for merchant_id, last in latest.items():
                mark, _ = OutboxPurgeMark.objects.get_or_create(merchant_id=merchant_id)
                OutboxPurgeMark.objects.filter(pk=mark.pk).update(
                    purged_through=Greatest(F("purged_through"), last)
                )
            attempts += WebhookAttempt.objects.filter(delivery__event_id__in=ids).delete()[0]
            deliveries += WebhookDelivery.objects.filter(event_id__in=ids).delete()[0]
            events += OutboxEvent.objects.filter(id__in=ids).delete()[0]
    return Purged(events=events, deliveries=deliveries, attempts=attempts)
