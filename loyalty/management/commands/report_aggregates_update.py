from core.management.jobcommand import JobCommand
from loyalty.reports import aggregates


class Command(JobCommand):
    help = "Bring the report aggregates up to date with the rows written since the last run."
    job = staticmethod(aggregates.aggregates_update)
    default_batch = aggregates.DEFAULT_BATCH

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=self.default_batch)
        parser.add_argument("--now", help="Run as of this ISO time (default: now).")
        parser.set_defaults(merchant=None)
