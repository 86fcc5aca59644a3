from core.management.jobcommand import JobCommand
from loyalty.referrals import qualify


class Command(JobCommand):
    help = (
        "Find referred friends' first orders, reward referrals whose pending period passed "
        "and void those whose first order was refunded."
    )
    default_batch = qualify.DEFAULT_BATCH
    job = staticmethod(qualify.referrals_qualify)
