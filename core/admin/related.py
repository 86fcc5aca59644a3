"""A record page's related records: a row of links at the top of the page, each to the list
of the records that belong to this one (a merchant's members, a member's redemptions), with
their count, so any related record is two clicks away at most.

Counts stop at ``COUNT_LIMIT`` (``1,000+``): a count is an indexed query that reads at most
that many rows, whatever the size of the table."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode

COUNT_LIMIT = 1000


@dataclass(frozen=True)
class Related:
    """The records of ``model`` whose ``lookup`` is this record (or the value ``value``
    gives for it), listed at ``model``'s list filtered the same way."""

    title: str
    model: str  # "loyalty.member"
    lookup: str  # a relation: "merchant" filters the list by merchant__id__exact=<pk>
    value: Callable[[Any], Any] | None = None

    def filter_value(self, obj: Any) -> Any:
        return self.value(obj) if self.value else obj.pk


@dataclass(frozen=True)
class RelatedLink:
    title: str
    url: str
    count: str


def _count_text(count: int) -> str:
    return f"{COUNT_LIMIT:,}+" if count > COUNT_LIMIT else f"{count:,}"


def related_links(
    site: AdminSite, request: HttpRequest, obj: Any, related: tuple[Related, ...]
) -> list[RelatedLink]:
    """The links this user may follow from ``obj``'s page: one per related list they may
    view, each with the capped count of its rows."""
    links = []
    for each in related:
        model = apps.get_model(each.model)
        model_admin = site._registry.get(model)
        if model_admin is None or not model_admin.has_view_or_change_permission(request):
            continue
        value = each.filter_value(obj)
        if value is None:
            continue
        field = f"{each.lookup}__id__exact"
        try:
            url = reverse(
                f"{site.name}:{model._meta.app_label}_{model._meta.model_name}_changelist"
            )
        except NoReverseMatch:
            continue
        rows = model._default_manager.filter(**{field: value})
        links.append(
            RelatedLink(
                title=each.title,
                url=f"{url}?{urlencode({field: value})}",
                count=_count_text(rows[: COUNT_LIMIT + 1].count()),
            )
        )
    return links


class RelatedRecordsAdmin:
    """Mixed into a model admin: ``related`` names the lists its records lead to; they
    are shown above the form of an existing record."""

    related: tuple[Related, ...] = ()
    change_form_before_template = "admin/_related_records.html"

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ):
        if obj is not None and change and self.related:
            context["related_records"] = related_links(self.admin_site, request, obj, self.related)
        return super().render_change_form(request, context, add, change, form_url, obj)
