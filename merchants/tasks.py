import time

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from merchants import invoices
from merchants.idempotency import idempotency_purge_expired

WORKER_HEARTBEAT_CACHE_KEY = "healthz:worker-heartbeat"


@shared_task(name="merchants.record_worker_heartbeat", acks_late=True)
def record_worker_heartbeat() -> None:
    """Scheduled every minute: lets /healthz tell whether a worker (and beat) is running."""
    cache.set(WORKER_HEARTBEAT_CACHE_KEY, time.time(), timeout=24 * 3600)


@shared_task(name="merchants.purge_idempotency_records", acks_late=True)
def purge_idempotency_records() -> int:
    """Daily: delete Idempotency-Key records past their time to live."""
    return idempotency_purge_expired()


@shared_task(name="merchants.draft_invoices", acks_late=True, soft_time_limit=1500, time_limit=1800)
def draft_invoices() -> str:
    """Monthly, on the 1st: draft last month's invoices for Finance to review and issue."""
    return str(invoices.invoices_draft_last_month(now=timezone.now()))
