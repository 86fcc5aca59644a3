from core.management.jobcommand import JobCommand
from merchants.webhooks import delivery


class Command(JobCommand):
    help = (
        "Dispatch new outbox events to the merchants' webhook endpoints and send the "
        "deliveries that are due, here and now (what the scheduled job does)."
    )
    job = staticmethod(delivery.webhooks_dispatch)
