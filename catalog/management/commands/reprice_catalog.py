from django.core.management.base import BaseCommand, CommandError

from catalog.management.commands.refresh_exchange_rates import parse_now
from catalog.services import catalog_items_reprice
from core.exceptions import NotFound
from merchants.selectors import merchant_get


class Command(BaseCommand):
    help = "Recompute merchants' point prices (all items unless narrowed down)."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", action="append", help="Only this merchant (slug).")
        parser.add_argument(
            "--currency", action="append", help="Only items priced through this currency."
        )
        parser.add_argument("--now", help="Price at this ISO time (default: now).")

    def handle(self, *args, merchant: list[str] | None, currency: list[str] | None, **options):
        merchant_ids = None
        if merchant:
            try:
                merchant_ids = [merchant_get(slug=slug).pk for slug in merchant]
            except NotFound as error:
                raise CommandError(error.detail) from error
        currencies = [code.strip().upper() for code in currency] if currency else None
        changed = catalog_items_reprice(
            merchant_ids=merchant_ids, currencies=currencies, at=parse_now(options["now"])
        )
        self.stdout.write(f"{changed} item(s) repriced")
