"""List filters: the work queues the ops home links to (``core.ops_cards``), and a
related record chosen by typing."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.contrib.filters.admin import AutocompleteSelectFilter


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


class RecordFilter(AutocompleteSelectFilter):
    """A filter by one related record, chosen by typing (unfold's autocomplete): its value
    must be a key the database can hold, else the list answers as Django's admin does to
    any bad filter (``?e=1``), never with a failed query."""

    def __init__(
        self, field: Any, request: HttpRequest, params: dict, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(field, request, params, *args, **kwargs)
        for value in self.lookup_val or []:
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise IncorrectLookupParameters(value) from None
            if not 0 < number < 2**63:
                raise IncorrectLookupParameters(value)
