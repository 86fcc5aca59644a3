"""The ledger, orders and their refunds, and activities: read-only records."""

from django.contrib import admin
from django.http import HttpRequest
from unfold.contrib.filters.admin import RangeDateTimeFilter

from core.admin.display import (
    link_column,
    moment_column,
    money_column,
    points_column,
    state_column,
    truncated,
)
from core.admin.filters import RecordFilter
from core.admin.readonly import ReadOnlyAdmin, ReadOnlyInline
from core.admin.related import Related, RelatedRecordsAdmin
from loyalty.models import (
    Activity,
    LedgerEntry,
    Order,
    OrderLine,
    Refund,
)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "when",
        "merchant_link",
        "member_link",
        "kind_label",
        "points_moved",
        "pending_moved",
        "balance",
        "why",
        "by",
    ]
    list_display_links = ["when"]
    list_filter = [
        "kind",
        "source_type",
        ("created_at", RangeDateTimeFilter),
        ("merchant", RecordFilter),
        ("member", RecordFilter),
    ]
    list_filter_submit = True
    when = moment_column("created_at", description="When")
    merchant_link = link_column("merchant", description="Merchant")
    member_link = link_column(
        "member", description="Member", text=lambda member: member.external_id
    )
    kind_label = state_column(
        "kind",
        tones={
            LedgerEntry.Kind.EARN: "success",
            LedgerEntry.Kind.RELEASE: "info",
            LedgerEntry.Kind.REDEEM: "primary",
            LedgerEntry.Kind.REVERSE: "warning",
            LedgerEntry.Kind.EXPIRE: "warning",
            LedgerEntry.Kind.ADJUST: "",
            LedgerEntry.Kind.REDEMPTION_REFUND: "info",
        },
        words={
            LedgerEntry.Kind.RELEASE: "Release",
            LedgerEntry.Kind.REVERSE: "Reverse",
            LedgerEntry.Kind.ADJUST: "Adjust",
            LedgerEntry.Kind.REDEMPTION_REFUND: "Given back",
        },
        description="Kind",
    )
    points_moved = points_column("points", description="Points", signed=True)
    pending_moved = points_column("pending", description="Pending", signed=True)
    balance = points_column("balance_after", description="Balance after")

    @admin.display(description="Reason")
    def why(self, entry: LedgerEntry) -> str:
        return truncated(entry.reason or f"{entry.get_source_type_display()} {entry.source_ref}")

    @admin.display(description="By", ordering="actor_label")
    def by(self, entry: LedgerEntry) -> str:
        return truncated(entry.actor_label)

    search_fields = ["member__external_id", "source_ref", "merchant__slug"]
    list_per_page = 50
    list_select_related = ["merchant", "member"]


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["sku", "category", "quantity", "unit_price"]
    readonly_fields = fields


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["external_id", "amount", "points_reversed", "shortfall", "created_at"]
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(RelatedRecordsAdmin, ReadOnlyAdmin):
    related = (
        Related("Ledger entries", "loyalty.ledgerentry", "order"),
        Related("Refunds", "loyalty.refund", "order"),
        Related("Tickets", "customercare.ticket", "order"),
    )

    list_display = [
        "external_id",
        "merchant_link",
        "member_link",
        "placed",
        "total_shown",
        "earned",
        "reversed",
        "refunded",
    ]
    merchant_link = link_column("merchant", description="Merchant")
    member_link = link_column(
        "member", description="Member", text=lambda member: member.external_id
    )
    placed = moment_column("placed_at", description="Placed")
    total_shown = money_column("total", currency="currency", description="Total")
    earned = points_column("points_earned", description="Points earned")
    reversed = points_column("points_reversed", description="Points taken back")
    refunded = money_column("refunded_total", currency="currency", description="Refunded")
    list_filter = [
        ("placed_at", RangeDateTimeFilter),
        ("merchant", RecordFilter),
        ("member", RecordFilter),
        "currency",
    ]
    list_filter_submit = True
    search_fields = ["external_id", "member__external_id", "merchant__slug"]
    list_select_related = ["merchant", "member"]
    inlines = [OrderLineInline, RefundInline]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Viewable with its lines and refunds; nothing on it is editable.
        return False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = [
        "external_id",
        "merchant_link",
        "order_link",
        "amount_shown",
        "reversed",
        "shortfall_points",
        "created",
    ]
    merchant_link = link_column("merchant", description="Merchant")
    order_link = link_column("order", description="Order", text=lambda order: order.external_id)
    amount_shown = money_column("amount", currency="order__currency", description="Amount")
    reversed = points_column("points_reversed", description="Points taken back")
    shortfall_points = points_column("shortfall", description="Shortfall")
    created = moment_column("created_at", description="Recorded")
    search_fields = ["external_id", "order__external_id", "merchant__slug"]
    list_filter = ["shortfall"]
    list_select_related = ["merchant", "order"]


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = [
        "external_id",
        "merchant",
        "member",
        "kind",
        "custom_kind",
        "occurred_at",
        "points_earned",
    ]
    list_filter = ["kind"]
    search_fields = ["external_id", "member__external_id", "merchant__slug"]
    list_select_related = ["merchant", "member"]
