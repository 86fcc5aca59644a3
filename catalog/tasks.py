"""Thin periodic tasks of the catalog; each calls one idempotent service."""

from celery import shared_task
from django.utils import timezone

from catalog import fx, pools
from catalog.services import catalog_items_reprice


@shared_task(name="catalog.refresh_exchange_rates", acks_late=True)
def refresh_exchange_rates() -> str:
    return str(fx.rates_refresh(now=timezone.now()))


@shared_task(name="catalog.reprice_items", acks_late=True)
def reprice_items() -> str:
    return f"{catalog_items_reprice(at=timezone.now())} item(s) repriced"


@shared_task(name="catalog.check_code_pools", acks_late=True)
def check_code_pools() -> str:
    return str(pools.pools_check_stock())
