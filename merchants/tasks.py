import time

from celery import shared_task
from django.core.cache import cache

WORKER_HEARTBEAT_CACHE_KEY = "healthz:worker-heartbeat"


@shared_task(name="merchants.record_worker_heartbeat", acks_late=True)
def record_worker_heartbeat() -> None:
    """Scheduled every minute: lets /healthz tell whether a worker (and beat) is running."""
    cache.set(WORKER_HEARTBEAT_CACHE_KEY, time.time(), timeout=24 * 3600)
