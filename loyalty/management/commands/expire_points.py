from loyalty import jobs
from loyalty.management.jobcommand import JobCommand


class Command(JobCommand):
    help = "Expire points by each program's expiry policy."
    job = staticmethod(jobs.expire_points)
