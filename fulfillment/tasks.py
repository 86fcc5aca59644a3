"""Thin tasks of fulfillment: each calls one idempotent function."""

from celery import shared_task
from django.utils import timezone

from fulfillment import dispatch


@shared_task(name="fulfillment.process_supplier_orders", acks_late=True)
def process_supplier_orders(batch_size: int = 100) -> str:
    """Scheduled: place, poll, reconcile and retry every supplier order that is due."""
    return str(dispatch.process_due(now=timezone.now(), batch_size=batch_size))


@shared_task(name="fulfillment.dispatch_redemption", acks_late=True)
def dispatch_redemption(redemption_id: int) -> str:
    """Enqueued when a redemption commits: its first order goes out at once."""
    return str(dispatch.process_due(now=timezone.now(), redemption_id=redemption_id))
