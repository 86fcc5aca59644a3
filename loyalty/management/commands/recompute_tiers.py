from core.management.jobcommand import JobCommand
from loyalty import jobs


class Command(JobCommand):
    help = "Recompute every member's tier (moves down as well as up)."
    job = staticmethod(jobs.recompute_tiers)
