from core.management.jobcommand import JobCommand
from portals import member_exports


class Command(JobCommand):
    help = "Make today's members CSV for every live merchant, and remove those over a week old."
    job = staticmethod(member_exports.member_exports_make)
