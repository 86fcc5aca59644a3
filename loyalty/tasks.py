from celery import shared_task
from django.utils import timezone

from loyalty import jobs


@shared_task(name="loyalty.release_pending_points", acks_late=True)
def release_pending_points() -> str:
    return str(jobs.release_pending_points(now=timezone.now()))


@shared_task(name="loyalty.expire_points", acks_late=True)
def expire_points() -> str:
    return str(jobs.expire_points(now=timezone.now()))


@shared_task(name="loyalty.recompute_tiers", acks_late=True)
def recompute_tiers() -> str:
    return str(jobs.recompute_tiers(now=timezone.now()))
