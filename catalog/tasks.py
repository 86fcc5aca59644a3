"""Thin periodic tasks of the catalog; each calls one idempotent service."""

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from catalog import fx, pools
from catalog.services import catalog_items_reprice
from core.jobs import job_result


@shared_task(name="catalog.refresh_exchange_rates", acks_late=True)
def refresh_exchange_rates() -> dict:
    result = fx.rates_refresh(now=timezone.now())
    return job_result(rows=result.rates_added + result.items_repriced, summary=result)


@shared_task(name="catalog.reprice_items", acks_late=True)
def reprice_items(
    merchant_ids: list[int] | None = None, currencies: list[str] | None = None
) -> dict:
    changed = catalog_items_reprice(
        merchant_ids=merchant_ids, currencies=currencies, at=timezone.now()
    )
    return job_result(rows=changed, summary=f"{changed} item(s) repriced")


def program_saved(*, program) -> None:
    """The loyalty app's ``on_program_saved`` hook: a program's point value or currency
    may have changed, so its merchant's catalog is repriced once the change commits."""
    merchant_id = program.merchant_id
    transaction.on_commit(lambda: reprice_items.delay(merchant_ids=[merchant_id]))


@shared_task(name="catalog.check_code_pools", acks_late=True)
def check_code_pools() -> str:
    return str(pools.pools_check_stock())


def rates_changed(*, currencies: list[str]) -> None:
    """The loyalty app's ``on_rates_changed`` hook: staff entered or imported rates, so
    the items priced in those currencies are repriced once the change commits."""
    transaction.on_commit(lambda: reprice_items.delay(currencies=list(currencies)))
