from loyalty import jobs
from loyalty.management.jobcommand import JobCommand


class Command(JobCommand):
    help = "Release pending points whose return window has passed."
    job = staticmethod(jobs.release_pending_points)
