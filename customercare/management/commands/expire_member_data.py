from core.management.jobcommand import JobCommand
from customercare import member_data_requests


class Command(JobCommand):
    help = (
        "Delete the member data archives past their week (the customercare.member_data_expire job)."
    )
    job = staticmethod(member_data_requests.member_data_exports_expire)
