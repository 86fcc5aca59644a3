"""List filters for the work queues the ops home links to (``core.ops_cards``)."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest


def queue_filter(
    *, title: str, parameter_name: str, label: str, rows: Callable[[QuerySet], QuerySet]
) -> type[admin.SimpleListFilter]:
    """A filter with one choice, ``?<parameter_name>=yes``: the rows ``rows`` keeps, the
    same definition the home's card counts."""

    class QueueFilter(admin.SimpleListFilter):
        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple]:
            return [("yes", label)]

        def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
            return rows(queryset) if self.value() == "yes" else queryset

    QueueFilter.title = title
    QueueFilter.parameter_name = parameter_name
    QueueFilter.__name__ = f"{parameter_name.capitalize()}Filter"
    return QueueFilter
