from core.management.jobcommand import JobCommand
from portals import snapshots


def _refresh(*, now, batch_size, merchant_id):
    return snapshots.snapshots_refresh(now=now, merchant_id=merchant_id)


class Command(JobCommand):
    help = (
        "Compute the report snapshots of the dashboard's periods that are missing or whose "
        "figures changed, for every live merchant (or one)."
    )
    job = staticmethod(_refresh)

    def add_arguments(self, parser):
        parser.add_argument("--merchant", help="Only this merchant (its slug).")
        parser.add_argument("--now", help="Run as of this ISO time (default: now).")
        parser.set_defaults(batch_size=1)
