from core.management.jobcommand import JobCommand
from loyalty.messages import jobs


class Command(JobCommand):
    help = (
        "Send the welcome, tier, achievement and referral messages of the last 7 days that "
        "were not sent yet."
    )
    job = staticmethod(jobs.lifecycle_messages_send)
