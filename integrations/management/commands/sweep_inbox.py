from core.management.jobcommand import JobCommand
from integrations import services


class Command(JobCommand):
    help = "Process the platform webhook deliveries still waiting in the inbox."
    job = staticmethod(services.inbox_sweep)
