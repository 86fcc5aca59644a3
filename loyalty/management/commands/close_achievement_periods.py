from core.management.jobcommand import JobCommand
from loyalty.achievements import services as achievements


class Command(JobCommand):
    help = (
        "Record each achievement streak that broke (a period ended with no occurrence), "
        "and drop occurrences that fell out of a rolling window."
    )
    job = staticmethod(achievements.periods_close)
