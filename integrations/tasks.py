from celery import shared_task
from django.utils import timezone

from integrations import services


@shared_task(name="integrations.process_delivery", acks_late=True, soft_time_limit=300)
def process_delivery(delivery_id: int) -> str:
    delivery = services.delivery_process(delivery_id=delivery_id)
    return delivery.status if delivery is not None else "skipped"


@shared_task(name="integrations.sweep_inbox", acks_late=True)
def sweep_inbox() -> int:
    """The deliveries processed: the job run's rows."""
    return services.inbox_sweep(now=timezone.now())
