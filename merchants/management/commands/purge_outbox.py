from core.management.jobcommand import JobCommand
from merchants.webhooks import retention


class Command(JobCommand):
    help = (
        "Delete outbox events older than WEBHOOK_EVENT_RETENTION_DAYS, with their webhook "
        "deliveries and attempts (what the daily job does)."
    )
    job = staticmethod(retention.outbox_purge)
    default_batch = retention.BATCH
