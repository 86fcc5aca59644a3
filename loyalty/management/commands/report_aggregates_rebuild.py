from django.core.management.base import BaseCommand, CommandError

from loyalty.reports import aggregates
from merchants.models import Merchant


class Command(BaseCommand):
    help = "Recompute the report aggregates from the ledger, orders and members."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", help="Only this merchant (its slug).")

    def handle(self, *args, merchant: str | None, **options):
        merchant_id = None
        if merchant:
            found = Merchant.objects.filter(slug=merchant).values_list("pk", flat=True)
            merchant_id = found.first()
            if merchant_id is None:
                raise CommandError(f"No merchant with the slug {merchant!r}.")
        self.stdout.write(str(aggregates.aggregates_rebuild(merchant_id=merchant_id)))
