from core.management.jobcommand import JobCommand
from loyalty.segments import services


class Command(JobCommand):
    help = "Score members (RFM), then refresh every active segment in full: the nightly job."
    job = staticmethod(services.segments_refresh_full)
