import time

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from core.jobs import job_result
from merchants import invoices, monthly_reports
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


@shared_task(name="merchants.produce_monthly_reports", acks_late=True)
def produce_monthly_reports() -> str:
    return monthly_reports.monthly_reports_due(now=timezone.now())


@shared_task(name="merchants.send_portal_invite", acks_late=True)
def send_portal_invite(membership_id: int, invited_by: str) -> bool:
    """Email a portal invitation (a membership removed meanwhile gets none)."""
    from merchants.services.team import portal_invite_email_send

    return portal_invite_email_send(membership_id=membership_id, invited_by=invited_by)


@shared_task(name="merchants.draft_invoices", acks_late=True, soft_time_limit=1500, time_limit=1800)
def draft_invoices() -> dict:
    """Monthly, on the 1st: draft last month's invoices for Finance to review and issue."""
    result = invoices.invoices_draft_last_month(now=timezone.now())
    return job_result(rows=result.drafted, summary=result)


@shared_task(name="merchants.dispatch_webhooks", acks_late=True, soft_time_limit=50, time_limit=60)
def dispatch_webhooks(merchant_id: int | None = None) -> dict:
    """Every minute (and nudged after events commit): deliveries for new outbox events,
    and a worker task for each delivery that is due."""
    from merchants.webhooks import delivery

    result = delivery.webhooks_dispatch(
        now=timezone.now(), merchant_id=merchant_id, send=_deliver_later
    )
    return job_result(rows=sum(result.outcomes.values()), summary=result)


def _deliver_later(delivery_id: int) -> None:
    deliver_webhook.delay(delivery_id)


@shared_task(name="merchants.deliver_webhook", acks_late=True, soft_time_limit=60, time_limit=90)
def deliver_webhook(delivery_id: int) -> str:
    """Send one webhook delivery if it is (still) due; idempotent."""
    from merchants.webhooks import delivery

    return delivery.delivery_send(delivery_id=delivery_id)


@shared_task(name="merchants.purge_outbox", acks_late=True)
def purge_outbox() -> dict:
    """Daily: delete outbox events past WEBHOOK_EVENT_RETENTION_DAYS (and their deliveries
    and attempts)."""
    from merchants.webhooks import retention

    purged = retention.outbox_purge(now=timezone.now())
    return job_result(rows=purged.events + purged.deliveries + purged.attempts, summary=purged)
