from core.management.jobcommand import JobCommand
from merchants import monthly_reports


class Command(JobCommand):
    help = "Make last month's PDF report for every live merchant and email its owners."
    job = staticmethod(monthly_reports.monthly_reports_due)
