from django.core.management.base import BaseCommand

from catalog import pools


class Command(BaseCommand):
    help = "Alert the Catalog team about code pools running low (and clear recovered ones)."

    def handle(self, *args, **options):
        self.stdout.write(str(pools.pools_check_stock()))
