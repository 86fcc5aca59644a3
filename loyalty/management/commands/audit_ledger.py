from django.core.management.base import BaseCommand, CommandError

from core.exceptions import NotFound
from loyalty.audit import ledger_audit
from merchants.selectors import merchant_id_by_slug


class Command(BaseCommand):
    help = (
        "Check the points ledger in bulk: per member, balance = sum of entries = last "
        "entry = lots' remaining (pending likewise), the chain of entries, and each lot's "
        "movements. Prints a report; exits 1 on any mismatch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--merchant", help="Only this merchant (its slug).")

    def handle(self, *args, merchant: str | None, **options):
        merchant_id = None
        if merchant:
            try:
                merchant_id = merchant_id_by_slug(slug=merchant)
            except NotFound as error:
                raise CommandError(error.detail) from error
        audit = ledger_audit(merchant_id=merchant_id)
        if not audit.ok:
            self.stderr.write(str(audit))
            raise CommandError("The ledger does not balance.", returncode=1)
        self.stdout.write(str(audit))
