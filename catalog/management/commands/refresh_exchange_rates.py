import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog import fx


def parse_now(value: str | None) -> datetime.datetime:
    if not value:
        return timezone.now()
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None or timezone.is_naive(moment):
        raise CommandError("--now takes an ISO time with its offset, e.g. 2027-01-01T00:00Z")
    return moment


class Command(BaseCommand):
    help = (
        "Import the rate files of EXCHANGE_RATE_DROP_DIR, reprice what they change and "
        "alert on stale rates."
    )

    def add_arguments(self, parser):
        parser.add_argument("--now", help="Run as of this ISO time (default: now).")

    def handle(self, *args, now: str | None, **options):
        result = fx.rates_refresh(now=parse_now(now))
        self.stdout.write(str(result))
        for name in result.files_rejected:
            self.stderr.write(f"refused: {name} (see {fx.REJECTED}/ for the reasons)")
