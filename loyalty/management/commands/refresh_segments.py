from core.management.jobcommand import JobCommand
from loyalty.segments import services


class Command(JobCommand):
    help = (
        "Refresh every active segment for the members something happened to since its last "
        "refresh (a segment never refreshed in full gets a full refresh)."
    )
    job = staticmethod(services.segments_refresh)
