from core.management.jobcommand import JobCommand
from loyalty.achievements import periods


class Command(JobCommand):
    help = (
        "Record each achievement streak that broke (a period ended with no occurrence), "
        "and drop occurrences that fell out of a rolling window."
    )
    job = staticmethod(periods.periods_close)
