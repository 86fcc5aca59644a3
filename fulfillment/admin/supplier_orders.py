"""Supplier orders (read-only), code reveals (the audit trail), and the supplier health
page (``view_supplierorder``) with its "activate again" button for paused suppliers
(``resume_supplier``)."""

import datetime
import statistics
from collections import defaultdict
from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from catalog.models import Supplier
from core import formatting
from core.actors import Actor
from core.admin.display import link_column, moment_column, state_column, truncated
from core.admin.readonly import ReadOnlyAdmin
from core.admin.rights import require
from fulfillment.models import CodeReveal, SupplierOrder, SupplierOrderStatus
from fulfillment.services import dispatch, interventions

WINDOW = datetime.timedelta(hours=24)
RESUME_PERMISSION = "fulfillment.resume_supplier"


@admin.register(SupplierOrder)
class SupplierOrderAdmin(ReadOnlyAdmin):
    list_display = [
        "key",
        "redemption_link",
        "supplier_link",
        "try_number",
        "status_label",
        "tries",
        "error",
        "placed",
        "completed",
    ]
    list_display_links = ["key"]
    supplier_link = link_column("supplier", description="Supplier")
    status_label = state_column(
        "status",
        tones={
            SupplierOrderStatus.QUEUED: "info",
            SupplierOrderStatus.SUBMITTED: "info",
            SupplierOrderStatus.UNKNOWN: "warning",
            SupplierOrderStatus.DELIVERED: "success",
            SupplierOrderStatus.FAILED: "danger",
        },
        words={
            SupplierOrderStatus.QUEUED: "Queued",
            SupplierOrderStatus.SUBMITTED: "Placed",
            SupplierOrderStatus.UNKNOWN: "Outcome unknown",
        },
        description="Status",
    )
    placed = moment_column("created_at", description="Placed")

    @admin.display(description="Try", ordering="attempt")
    def try_number(self, order: SupplierOrder) -> int:
        return order.attempt

    completed = moment_column("completed_at", description="Completed")

    @admin.display(description="Key", ordering="idempotency_key")
    def key(self, order: SupplierOrder) -> str:
        return truncated(order.idempotency_key)

    @admin.display(description="Last error")
    def error(self, order: SupplierOrder) -> str:
        if not order.last_error:
            return formatting.MISSING
        kind = f"{order.error_kind}: " if order.error_kind else ""
        return truncated(f"{kind}{order.last_error}")

    list_filter = ["status", "supplier", "supplier__adapter", "error_kind"]
    list_select_related = ["supplier"]
    search_fields = ["=idempotency_key", "=supplier_ref"]
    show_full_result_count = False
    change_list_template = "admin/fulfillment/supplierorder/change_list.html"
    fields = [
        "redemption",
        "offer",
        "supplier",
        "attempt",
        "idempotency_key",
        "status",
        "supplier_ref",
        "tries",
        "next_try_at",
        "last_error",
        "error_kind",
        "cost",
        "cost_currency",
        "stock_reserved",
        "created_at",
        "updated_at",
        "submitted_at",
        "completed_at",
    ]
    readonly_fields = fields

    @admin.display(description="Redemption", ordering="redemption_id")
    def redemption_link(self, order: SupplierOrder) -> str:
        return format_html(
            '<a href="{}">#{}</a>',
            reverse("admin:fulfillment_redemption_change", args=[order.redemption_id]),
            order.redemption_id,
        )

    def get_urls(self) -> list:
        return [
            path(
                "health/",
                self.admin_site.admin_view(self.health_view),
                name="fulfillment_supplierorder_health",
            ),
            path(
                "health/<int:supplier_id>/activate/",
                self.admin_site.admin_view(require_POST(self.activate_view)),
                name="fulfillment_supplierorder_activate",
            ),
            *super().get_urls(),
        ]

    def health_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(
            request,
            "admin/fulfillment/supplier_health.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Supplier health (last 24 hours)",
                "rows": supplier_health(now=timezone.now()),
                "can_activate": request.user.has_perm(RESUME_PERMISSION),
            },
        )

    def activate_view(self, request: HttpRequest, supplier_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        require(request, RESUME_PERMISSION)
        supplier = get_object_or_404(Supplier, pk=supplier_id)
        if interventions.supplier_activate(supplier=supplier, actor=Actor.staff(request.user)):
            self.message_user(request, f"{supplier} is active again.", messages.SUCCESS)
        else:
            self.message_user(request, f"{supplier} was already active.", messages.INFO)
        return HttpResponseRedirect(reverse("admin:fulfillment_supplierorder_health"))


@dataclass
class SupplierHealth:
    supplier: Supplier
    orders: int = 0
    delivered: int = 0
    failed: int = 0
    open_orders: int = 0
    median_to_deliver: datetime.timedelta | None = None

    @property
    def paused(self) -> bool:
        return not self.supplier.is_active

    @property
    def success_rate(self) -> str:
        settled = self.delivered + self.failed
        return f"{100 * self.delivered // settled} %" if settled else "-"

    @property
    def median(self) -> str:
        if self.median_to_deliver is None:
            return "-"
        seconds = int(self.median_to_deliver.total_seconds())
        if seconds < 120:
            return f"{seconds} s"
        return f"{seconds // 60} min"


def supplier_health(*, now: datetime.datetime) -> list[SupplierHealth]:
    """Per supplier: orders made in the window, how many settled delivered or failed,
    the median time from order to delivery, and the orders still open (any age)."""
    since = now - WINDOW
    rows = {s.pk: SupplierHealth(supplier=s) for s in Supplier.objects.order_by("name")}
    counts = (
        SupplierOrder.objects.filter(Q(created_at__gte=since) | Q(status__in=dispatch.ACTIVE))
        .values("supplier_id")
        .annotate(
            orders=Count("id", filter=Q(created_at__gte=since)),
            delivered=Count(
                "id", filter=Q(created_at__gte=since, status=SupplierOrderStatus.DELIVERED)
            ),
            failed=Count("id", filter=Q(created_at__gte=since, status=SupplierOrderStatus.FAILED)),
            open_orders=Count("id", filter=Q(status__in=dispatch.ACTIVE)),
        )
        .order_by()
    )
    for count in counts:
        row = rows.get(count.pop("supplier_id"))
        if row is not None:
            for name, value in count.items():
                setattr(row, name, value)
    durations: dict[int, list[datetime.timedelta]] = defaultdict(list)
    for supplier_id, created, completed in SupplierOrder.objects.filter(
        status=SupplierOrderStatus.DELIVERED, created_at__gte=since, completed_at__isnull=False
    ).values_list("supplier_id", "created_at", "completed_at"):
        durations[supplier_id].append(completed - created)
    for supplier_id, spans in durations.items():
        if supplier_id in rows:
            rows[supplier_id].median_to_deliver = statistics.median(spans)
    return list(rows.values())


@admin.register(CodeReveal)
class CodeRevealAdmin(ReadOnlyAdmin):
    """Who read which delivered code in clear, when and how."""

    list_display = ["at", "code", "redemption", "via", "user", "api_key_prefix"]
    list_filter = ["via"]
    list_select_related = ["code", "user"]
    search_fields = ["=code__redemption__public_id", "user__username"]
    show_full_result_count = False
    fields = ["at", "code", "via", "user", "api_key_prefix"]
    readonly_fields = fields

    @admin.display(description="Redemption", ordering="code__redemption_id")
    def redemption(self, reveal: CodeReveal) -> str:
        return f"#{reveal.code.redemption_id}"
