from core.management.jobcommand import JobCommand
from loyalty.segments import services


class Command(JobCommand):
    help = "Recompute the members' RFM scores (quintiles of the last year's orders)."
    job = staticmethod(services.member_scores_compute)
