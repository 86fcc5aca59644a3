from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from merchants.demo import seed


class Command(BaseCommand):
    help = (
        "Load demo data for a development run: merchants at each onboarding stage, stores, "
        "fee plans, an ops superuser (its password printed once) and fresh demo API keys. "
        "Existing data is kept. Refused in production."
    )

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url: str, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo prints credentials and is refused in production.")
        seed(out=self.stdout, base_url=base_url.rstrip("/"))
