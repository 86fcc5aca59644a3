from core.management.jobcommand import JobCommand
from loyalty.referrals import services


class Command(JobCommand):
    help = (
        "Find referred friends' first orders, reward referrals whose pending period passed "
        "and void those whose first order was refunded."
    )
    default_batch = services.DEFAULT_BATCH
    job = staticmethod(services.referrals_qualify)
