"""Walking a large queryset in bounded batches by an ascending key (keyset pagination):
each batch is read anew, so rows another worker handled meanwhile drop out, and no batch
costs more than the one before it, however far the walk is."""

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet


def keyset_batches(queryset: QuerySet, batch_size: int) -> Iterator[list[Any]]:
    """The rows of ``queryset``, ``batch_size`` at a time, by ascending primary key."""
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        rows = list(page.order_by("pk")[:batch_size])
        if not rows:
            return
        yield rows
        last = rows[-1].pk


def value_batches(queryset: QuerySet, field: str, batch_size: int) -> Iterator[list[Any]]:
    """The distinct values of ``field`` in ``queryset`` (a member id, say), ``batch_size``
    at a time, ascending."""
    last = None
    while True:
        page = queryset if last is None else queryset.filter(**{f"{field}__gt": last})
        values = list(page.order_by(field).values_list(field, flat=True).distinct()[:batch_size])
        if not values:
            return
        yield values
        last = values[-1]
