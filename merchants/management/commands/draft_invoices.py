from core.management.jobcommand import JobCommand
from merchants import invoices


class Command(JobCommand):
    help = (
        "Draft last month's invoice of every live merchant (or --merchant) from its fee plan "
        "and usage; drafting again rebuilds drafts and keeps issued invoices."
    )
    default_batch = 100
    job = staticmethod(invoices.invoices_draft_last_month)
