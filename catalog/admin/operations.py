"""Code pools, voucher codes and the Catalog team's alerts."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin
from unfold.decorators import display

from catalog import pools
from catalog.alerts import alert_clear
from catalog.models import (
    CatalogAlert,
    CodePool,
    VoucherCode,
)
from core.actors import Actor
from core.admin.display import link_column, moment_column, moment_text, money_column, truncated
from core.admin.readonly import ReadOnlyAdmin
from core.site_time import site_today

# -- code pools --------------------------------------------------------------------------


@admin.register(CodePool)
class CodePoolAdmin(ModelAdmin):
    """Counts only: the codes themselves are never shown here."""

    list_display = [
        "__str__",
        "face",
        "free_codes",
        "reserved_codes",
        "used_codes",
        "low_stock_threshold",
    ]
    list_select_related = ["offer__supplier", "offer__reward"]
    face = money_column(
        "face_value", currency="offer__reward__face_currency", description="Face value"
    )
    search_fields = ["offer__supplier_sku", "offer__reward__slug", "offer__supplier__slug"]
    autocomplete_fields = ["offer"]
    fields = [
        "offer",
        "face_value",
        "low_stock_threshold",
        "free_codes",
        "reserved_codes",
        "used_codes",
    ]
    readonly_fields = ["free_codes", "reserved_codes", "used_codes", "created_at"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                free_count=Count("codes", filter=pools.free_codes(site_today(), prefix="codes__")),
                reserved_count=Count(
                    "codes",
                    filter=Q(codes__used_at__isnull=True) & ~Q(codes__reserved_for=""),
                ),
                used_count=Count("codes", filter=Q(codes__used_at__isnull=False)),
            )
        )

    @admin.display(description="Free codes", ordering="free_count")
    def free_codes(self, pool: CodePool) -> int:
        return getattr(pool, "free_count", 0)

    @admin.display(description="Reserved, not delivered", ordering="reserved_count")
    def reserved_codes(self, pool: CodePool) -> int:
        return getattr(pool, "reserved_count", 0)

    @admin.display(description="Used codes", ordering="used_count")
    def used_codes(self, pool: CodePool) -> int:
        return getattr(pool, "used_count", 0)


@admin.register(VoucherCode)
class VoucherCodeAdmin(ReadOnlyAdmin):
    """Which codes were reserved and delivered, when and for which supplier order; never
    the code or its PIN."""

    list_display = ["id", "pool_link", "expires_on", "uploaded", "state", "for_what", "when"]
    pool_link = link_column("pool", description="Pool")
    uploaded = moment_column("uploaded_at", description="Uploaded")

    @display(description="State", label={"free": "success", "reserved": "info", "used": ""})
    def state(self, code: VoucherCode) -> tuple[str, str]:
        if code.used_at:
            return "used", "Used"
        return ("reserved", "Reserved") if code.reserved_for else ("free", "Free")

    @admin.display(description="For")
    def for_what(self, code: VoucherCode) -> str:
        return truncated(code.used_for or code.reserved_for)

    @admin.display(description="Since", ordering="used_at")
    def when(self, code: VoucherCode) -> str:
        return moment_text(code.used_at or code.reserved_at)

    list_filter = [("used_at", admin.EmptyFieldListFilter)]
    search_fields = ["used_for", "reserved_for"]
    list_select_related = ["pool__offer__supplier"]
    fields = [
        "pool",
        "expires_on",
        "uploaded_at",
        "reserved_for",
        "reserved_at",
        "used_at",
        "used_for",
    ]
    readonly_fields = fields


# -- alerts ----------------------------------------------------------------------------------


class OpenFilter(admin.SimpleListFilter):
    title = "open"
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin) -> list[tuple]:
        return [("yes", "Open"), ("no", "Resolved")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(CatalogAlert)
class CatalogAlertAdmin(ModelAdmin):
    list_display = [
        "kind",
        "subject",
        "message",
        "raised_at",
        "last_seen_at",
        "resolved_at",
        "resolved_by",
    ]
    list_filter = [OpenFilter, "kind"]
    search_fields = ["subject", "message"]
    list_select_related = ["resolved_by"]
    fields = list_display
    readonly_fields = list_display
    show_full_result_count = False
    actions = ["mark_resolved"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Mark resolved", permissions=["change"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet) -> None:
        resolved = sum(
            alert_clear(kind=alert.kind, subject=alert.subject, actor=Actor.staff(request.user))
            for alert in queryset.filter(resolved_at__isnull=True)
        )
        self.message_user(request, f"{resolved} alert(s) resolved.", messages.SUCCESS)
