"""Admins and inlines for what only the services write. A record (a ledger entry, an event
row, a supplier order) is read here and never added, changed or deleted by hand; its
history is read, never reverted."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, TabularInline
from unfold.paginator import InfinitePaginator


class NoWrites:
    """Nobody adds, changes or deletes these rows here, whatever their permissions."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(NoWrites, ModelAdmin):
    """The list and the page of a record; these tables grow without end, so the list never
    counts them: it pages on with Previous and Next (unfold's InfinitePaginator)."""

    show_full_result_count = False
    paginator = InfinitePaginator


class SelectRelatedInline(TabularInline):
    """An inline whose rows load their foreign keys in the same query."""

    list_select_related: list[str] | tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related(*self.list_select_related)


class ReadOnlyInline(NoWrites, SelectRelatedInline):
    """The rows of a record shown on its parent's page, for reading."""

    extra = 0
    can_delete = False
    show_change_link = False


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin, ModelAdmin):
    """The history is for reading: changes go through the services, not a revert."""

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
