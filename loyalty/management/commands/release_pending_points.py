from core.management.jobcommand import JobCommand
from loyalty import jobs


class Command(JobCommand):
    help = "Release pending points whose return window has passed."
    job = staticmethod(jobs.release_pending_points)
