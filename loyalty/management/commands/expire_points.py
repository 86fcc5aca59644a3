from core.management.jobcommand import JobCommand
from loyalty import jobs


class Command(JobCommand):
    help = "Expire points by each program's expiry policy."
    job = staticmethod(jobs.expire_points)
