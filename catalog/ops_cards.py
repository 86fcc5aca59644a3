"""The catalog's cards of the ops home (``core.ops_cards``): its open alerts of the kinds
that stop rewards from going out (a paused supplier, a pool running out of codes) or make
prices wrong (an exchange rate past its maximum age)."""

import datetime

from catalog.models import AlertKind, CatalogAlert
from core.ops_cards import Card, Figure, count

ALERTS = "admin:catalog_catalogalert_changelist"


def _open_alerts(kind: str):
    def figure(now: datetime.datetime) -> Figure:
        return count(CatalogAlert.objects.filter(kind=kind, resolved_at__isnull=True).count())

    return figure


CARDS = [
    Card(
        key="catalog.suppliers_paused",
        section="Fulfillment",
        title="Suppliers paused",
        meaning="Suppliers whose last orders all failed: their orders go to the next "
        "offer. Activate them again from Supplier health once they answer.",
        figure=_open_alerts(AlertKind.SUPPLIER_PAUSED),
        link="admin:fulfillment_supplierorder_health",
        rights_of="fulfillment.supplierorder",
        tone="danger",
    ),
    Card(
        key="catalog.low_stock",
        section="Fulfillment",
        title="Code pools running low",
        meaning="Pools of codes with fewer unused codes than their low-stock mark: load "
        "more codes before they run out.",
        figure=_open_alerts(AlertKind.LOW_STOCK),
        link=ALERTS,
        query=f"open=yes&kind__exact={AlertKind.LOW_STOCK}",
        rights_of="catalog.catalogalert",
        badge=True,
    ),
    Card(
        key="catalog.stale_rates",
        section="Money",
        title="Exchange rates out of date",
        meaning="Rates older than their maximum age: point prices in those currencies use "
        "an old rate until a new one is loaded.",
        figure=_open_alerts(AlertKind.STALE_RATE),
        link=ALERTS,
        query=f"open=yes&kind__exact={AlertKind.STALE_RATE}",
        rights_of="catalog.catalogalert",
    ),
]
