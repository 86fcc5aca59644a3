"""A management command that runs one scheduled job by hand.

A job is a function ``job(*, now, batch_size, merchant_id)`` whose result prints as one
line. ``--merchant`` takes a slug; the app that owns merchants resolves it through the
``merchant_id_by_slug`` hook (core sits below every app and imports none of them)."""

from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.exceptions import NotFound
from core.hooks import app_hooks

DEFAULT_BATCH = 500


class JobCommand(BaseCommand):
    job: Callable[..., object]
    default_batch = DEFAULT_BATCH

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=self.default_batch)
        parser.add_argument("--merchant", help="Only this merchant (its slug).")
        parser.add_argument("--now", help="Run as of this ISO time (default: now).")

    def handle(self, *args, batch_size: int, merchant: str | None, now: str | None, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        at = timezone.now()
        if now:
            at = parse_datetime(now)
            if at is None or timezone.is_naive(at):
                raise CommandError(
                    "--now takes an ISO time with its offset, e.g. 2027-01-01T00:00Z"
                )
        merchant_id = None
        if merchant:
            (lookup,) = app_hooks("merchant_id_by_slug")
            try:
                merchant_id = lookup(slug=merchant)
            except NotFound as error:
                raise CommandError(error.detail) from error
        result = type(self).job(now=at, batch_size=batch_size, merchant_id=merchant_id)
        self.stdout.write(str(result))
