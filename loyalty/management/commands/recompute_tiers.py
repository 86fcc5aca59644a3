from loyalty import jobs
from loyalty.management.jobcommand import JobCommand


class Command(JobCommand):
    help = "Recompute every member's tier (moves down as well as up)."
    job = staticmethod(jobs.recompute_tiers)
