"""The outbox and outbound webhooks.

Every app that has something to tell the merchant's own systems calls ``event_publish`` in
the transaction of the change: the outbox row commits or rolls back with it. A caller
that writes through a batch (the order path's one-statement write) passes it, and the
row joins the batch. Delivery is ``merchants.webhooks.delivery``'s; the endpoints are
managed by the merchant's owners in the portal and by Operations in the admin
(``merchants.services.webhook_endpoints``).
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Model

from merchants.exceptions import UnknownEventType
from merchants.models import OutboxEvent, WebhookEventType


class _Inserts(Protocol):
    """A batch of writes (``loyalty.batch.WriteBatch``): merchants cannot import it."""

    def insert(self, obj: Model) -> Model: ...

    def when_written(self, callback: Callable[[], None]) -> None: ...


@dataclass(frozen=True, kw_only=True)
class EventInput:
    type: str
    subject: str = ""
    payload: dict
    occurred_at: datetime.datetime
    dedupe_key: str | None = None


# Django's ``Choices.values`` builds its list on every read.
EVENT_TYPES = frozenset(WebhookEventType.values)


def _outbox_row(merchant_id: int, event: EventInput) -> OutboxEvent:
    if event.type not in EVENT_TYPES:
        raise UnknownEventType(f"Unknown event type {event.type!r}.", field="type")
    return OutboxEvent(
        merchant_id=merchant_id,
        type=event.type,
        subject=event.subject,
        payload=event.payload,
        occurred_at=event.occurred_at,
        dedupe_key=event.dedupe_key,
    )


def event_publish(
    *,
    merchant_id: int,
    type: str,
    subject: str = "",
    payload: dict,
    occurred_at: datetime.datetime,
    batch: _Inserts | None = None,
) -> OutboxEvent:
    """Write an event of ``type`` (one of ``WebhookEventType``) to the outbox, in the
    caller's transaction: at once, or queued in the caller's ``batch``, written when the
    caller executes it. ``subject`` is the member's ``external_id`` for a member's event;
    ``payload`` must be JSON (strings for times and amounts)."""
    row = _outbox_row(
        merchant_id,
        EventInput(type=type, subject=subject, payload=payload, occurred_at=occurred_at),
    )
    if batch is None:
        row.save(force_insert=True)
        webhooks_nudge_when_committed(merchant_id=merchant_id)
    else:
        batch.insert(row)
        # Once the row is written: a batch hung on a gate may write nothing.
        batch.when_written(lambda: webhooks_nudge_when_committed(merchant_id=merchant_id))
    return row


def events_publish_once(*, merchant_id: int, events: list[EventInput]) -> int:
    """Write announcements that are made once only (each with a ``dedupe_key``): one
    statement for all of them; a key written before is skipped. Returns how many were
    given (the database does not say which were skipped)."""
    rows = [_outbox_row(merchant_id, event) for event in events]
    if any(row.dedupe_key is None for row in rows):
        raise ValueError("an announcement made once needs a dedupe_key")
    if rows:
        OutboxEvent.objects.bulk_create(rows, ignore_conflicts=True)
        webhooks_nudge_when_committed(merchant_id=merchant_id)
    return len(rows)


def _live_key(merchant_id: int) -> str:
    return f"webhooks:live:{merchant_id}"


def webhooks_live_mark(
    *, merchant_ids_live: set[int], merchant_ids_idle: set[int] = frozenset()
) -> None:
    """Remember which merchants have an active endpoint (the dispatcher refreshes this
    every run): ``event_publish`` asks the cache, never the database, whether to nudge."""
    timeout = settings.WEBHOOKS_LIVE_CACHE_SECONDS
    cache.set_many({_live_key(pk): True for pk in merchant_ids_live}, timeout=timeout)
    cache.delete_many([_live_key(pk) for pk in merchant_ids_idle])


def webhooks_nudge_when_committed(*, merchant_id: int) -> None:
    """Once the caller commits, ask a worker to deliver the merchant's new events now
    rather than at the next scheduled run (at most once a second per merchant). Only for
    merchants known to have an active endpoint: a cache read, no query, on every publish."""
    if not cache.get(_live_key(merchant_id)):
        return

    def nudge() -> None:
        from merchants.tasks import dispatch_webhooks

        if cache.add(f"webhooks:nudge:{merchant_id}", True, timeout=1):
            dispatch_webhooks.apply_async(kwargs={"merchant_id": merchant_id}, countdown=1)

    transaction.on_commit(nudge, robust=True)
