from django.core.management.base import BaseCommand, CommandError

from core.actors import Actor
from core.exceptions import DomainError
from merchants.models import Scope
from merchants.selectors import merchant_get, store_list
from merchants.services import api_keys


class Command(BaseCommand):
    help = "Issue an API key for a merchant and print it once (only its hash is kept)."

    def add_arguments(self, parser):
        parser.add_argument("merchant_slug")
        parser.add_argument(
            "--scopes",
            default=f"{Scope.READ},{Scope.WRITE}",
            help=f"Comma-separated, from: {', '.join(Scope.values)} (default: read,write).",
        )
        parser.add_argument("--name", default="Issued from the shell")
        parser.add_argument("--store", help="Limit the key to one store (its domain).")

    def handle(
        self, *args, merchant_slug: str, scopes: str, name: str, store: str | None, **options
    ):
        try:
            merchant = merchant_get(slug=merchant_slug)
            store_obj = None
            if store:
                store_obj = store_list(merchant=merchant).filter(domain=store.lower()).first()
                if store_obj is None:
                    raise CommandError(f"{merchant_slug} has no store with domain {store!r}.")
            api_key, raw_key = api_keys.api_key_issue(
                merchant=merchant,
                name=name,
                scopes=[scope for scope in scopes.split(",") if scope.strip()],
                store=store_obj,
                actor=Actor.system("issue_api_key"),
            )
        except DomainError as error:
            raise CommandError(error.detail) from error
        self.stdout.write(raw_key)
        self.stderr.write(
            f"Key {api_key.prefix} for {merchant.slug} with scopes {','.join(api_key.scopes)}. "
            "It is shown this once."
        )
