from core.management.jobcommand import JobCommand
from loyalty.messages import jobs


class Command(JobCommand):
    help = (
        "Email members whose points expire within a threshold of LOYALTY_EXPIRY_EMAIL_DAYS "
        "(by lot or by inactivity), once per expiry day and threshold."
    )
    job = staticmethod(jobs.expiry_warnings_send)
