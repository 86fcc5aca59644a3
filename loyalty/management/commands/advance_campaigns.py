from core.management.jobcommand import JobCommand
from loyalty.campaigns import services


class Command(JobCommand):
    help = "Run scheduled campaigns whose start came and end those whose end passed."
    job = staticmethod(services.campaigns_advance)
