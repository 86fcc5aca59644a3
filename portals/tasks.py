from celery import shared_task
from django.utils import timezone

from portals import snapshots


@shared_task(name="portals.refresh_report_snapshots", acks_late=True, soft_time_limit=240)
def refresh_report_snapshots() -> str:
    return str(snapshots.snapshots_refresh(now=timezone.now()))
