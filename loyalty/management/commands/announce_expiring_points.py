from core.management.jobcommand import JobCommand
from loyalty import events


class Command(JobCommand):
    help = (
        "Write a points.expiring event for each lot that expires within "
        "LOYALTY_EXPIRY_WARNING_DAYS and was not announced yet."
    )
    job = staticmethod(events.announce_expiring_points)
