"""Thin tasks of fulfillment: each calls one idempotent function."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from fulfillment import delivery, dispatch
from fulfillment.models import Redemption


@shared_task(name="fulfillment.process_supplier_orders", acks_late=True)
def process_supplier_orders(batch_size: int = 100) -> str:
    """Scheduled: place, poll, reconcile and retry every supplier order that is due, and
    send the delivery emails a crash may have lost."""
    now = timezone.now()
    result = dispatch.process_due(now=now, batch_size=batch_size)
    missing = delivery.unsent_deliveries(now=now)
    for redemption_id in missing:
        send_delivery_email.delay(redemption_id)
    return f"{result}; {len(missing)} delivery email(s) sent again"


@shared_task(name="fulfillment.dispatch_redemption", acks_late=True)
def dispatch_redemption(redemption_id: int) -> str:
    """Enqueued when a redemption commits: its first order goes out at once."""
    return str(dispatch.process_due(now=timezone.now(), redemption_id=redemption_id))


@shared_task(name="fulfillment.send_delivery_email", acks_late=True)
def send_delivery_email(redemption_id: int) -> str:
    """Enqueued when a redemption is delivered: the member gets the claim link (once)."""
    redemption = Redemption.objects.select_related("member", "reward").get(pk=redemption_id)
    delivery.delivery_email_send(redemption=redemption, base_url=settings.PUBLIC_BASE_URL)
    return f"redemption {redemption_id}: {redemption.delivery_status}"
