from core.management.jobcommand import JobCommand
from customercare import escalation


class Command(JobCommand):
    help = (
        "Flag tickets at risk and breached, escalate breaches and close resolved tickets "
        "past their reopen window (the customercare.sla_check job)."
    )
    job = staticmethod(escalation.sla_check)
