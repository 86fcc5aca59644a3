from django.core.management.base import BaseCommand

from core.schedules import periodic_tasks_sync
from core.staff_groups import staff_groups_sync


class Command(BaseCommand):
    help = (
        "Create the staff groups with their permissions and the scheduled jobs that are "
        "missing. Runs after every migrate too; changes made in the admin are kept unless "
        "--reset-schedules is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-schedules",
            action="store_true",
            help="Put every declared scheduled job back to its declared timing.",
        )

    def handle(self, *args, reset_schedules: bool, **options):
        for group, added in staff_groups_sync().items():
            self.stdout.write(f"group {group}: {added} permission(s) added")
        for name in periodic_tasks_sync(reset=reset_schedules):
            self.stdout.write(f"scheduled job written: {name}")
