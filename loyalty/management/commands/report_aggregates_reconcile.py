from core.management.jobcommand import JobCommand
from loyalty.reports import aggregates


class Command(JobCommand):
    help = "Recompute the last two local days of report aggregates of every merchant."
    job = staticmethod(aggregates.aggregates_reconcile)
