"""Admin for programs, members (the unified customer view), the ledger, orders and rates.

Balances are read-only everywhere: they change only through ``loyalty.ledger``, reached
here by the adjust-points action (which calls the same service as the API).

Editing a member's profile needs ``change_member``; what goes further has its own
permission: adjusting points ``adjust_points`` (care agents credit points only as goodwill
on a ticket, with its threshold, approval and limits), erasing personal data
``anonymise_member``, exporting members ``export_member``; importing them needs the rights
to add and to change members."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from import_export.formats import base_formats
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.contrib.filters.admin import RangeDateTimeFilter
from unfold.paginator import InfinitePaginator

from core import formatting
from core.actors import Actor
from core.admin.actions import ConfirmActions
from core.admin.display import (
    link_column,
    moment_column,
    money_column,
    points_column,
    state_column,
    truncated,
    yes_no_column,
)
from core.admin.filters import RecordFilter
from core.admin.importexport import StaffImportExportAdmin
from core.admin.readonly import ReadOnlyAdmin, ReadOnlyInline
from core.admin.related import Related, RelatedRecordsAdmin
from core.money import money_text
from loyalty import selectors
from loyalty.achievements.admin import AchievementCompletionInline
from loyalty.messages.admin import MemberMessageInline
from loyalty.models import (
    Activity,
    EarningRule,
    ExchangeRate,
    LedgerEntry,
    Member,
    MemberAttribute,
    Order,
    OrderLine,
    Program,
    Refund,
    Segment,
    Tier,
    TierChange,
)
from loyalty.resources import ExchangeRateResource, MemberResource
from loyalty.services import exchange_rates, members, programs
from loyalty.simulator_admin import simulate_view

RECENT_ROWS = 50
ADJUST_POINTS_PERMISSION = "loyalty.adjust_points"
ANONYMISE_PERMISSION = "loyalty.anonymise_member"
EXPORT_PERMISSION = "loyalty.export_member"


class TierInline(TabularInline):
    model = Tier
    extra = 0
    fields = ["name", "threshold", "multiplier", "benefits"]


class EarningRuleInline(StackedInline):
    model = EarningRule
    extra = 0
    autocomplete_fields = ["store"]

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "segment":
            # Only the program's merchant's segments (none until the program is saved).
            object_id = request.resolver_match.kwargs.get("object_id")
            program = Program.objects.filter(pk=object_id).first() if object_id else None
            kwargs["queryset"] = Segment.objects.filter(
                merchant_id=program.merchant_id if program else None
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("name", "kind", "priority", "is_active"),
                    ("valid_from", "valid_until"),
                    "segment",
                ]
            },
        ),
        (
            "What it gives",
            {"fields": [("points_per_unit", "multiplier", "bonus_points", "activity_kind")]},
        ),
        (
            "When it applies",
            {
                "fields": [
                    ("min_order_total", "store"),
                    ("include_skus", "exclude_skus"),
                    ("include_categories", "exclude_categories"),
                    ("cap_period", "cap_count"),
                ]
            },
        ),
    ]


@admin.register(Program)
class ProgramAdmin(ModelAdmin):
    list_display = [
        "name",
        "merchant_link",
        "points_name",
        "point_worth",
        "earn_rate",
        "pending_period",
        "expiry",
        "tiers",
        "active",
    ]
    merchant_link = link_column("merchant", description="Merchant")
    expiry = state_column(
        "expiry_policy",
        tones={},
        words={
            "never": "Never expire",
            "lot_age": "By age",
            "inactivity": "On inactivity",
        },
        description="Expiry",
    )
    tiers = yes_no_column("tiers_enabled", description="Tiers", yes="Tiers", no="No tiers")
    active = yes_no_column(
        "is_active", description="Active", yes="Active", no="Inactive", yes_tone="success"
    )

    @admin.display(description="Point value", ordering="point_value")
    def point_worth(self, program: Program) -> str:
        return formatting.unit_money(program.point_value, program.currency)

    @admin.display(description="Earn rate", ordering="base_earn_rate")
    def earn_rate(self, program: Program) -> str:
        rate = program.base_earn_rate.normalize()
        places = max(-rate.as_tuple().exponent, 0)
        return (
            f"{formatting.number(rate, places=places)} {program.points_name} "
            f"per 1 {program.currency}"
        )

    @admin.display(description="Pending", ordering="pending_days")
    def pending_period(self, program: Program) -> str:
        days = program.pending_days
        return "None" if not days else f"{days} day{'s' if days != 1 else ''}"

    list_filter = ["is_active", "expiry_policy", "tiers_enabled"]
    search_fields = ["name", "merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant"]
    show_full_result_count = False
    inlines = [TierInline, EarningRuleInline]
    fieldsets = [
        (None, {"fields": ["merchant", "name", "points_name", "is_active"]}),
        ("Earning", {"fields": ["currency", "point_value", "base_earn_rate", "rounding"]}),
        ("Pending and expiry", {"fields": ["pending_days", "expiry_policy", "expiry_months"]}),
        ("Tiers", {"fields": ["tiers_enabled", "tier_basis", "tier_window_months"]}),
    ]

    change_form_template = "admin/loyalty/program/change_form.html"

    def save_model(self, request: HttpRequest, obj: Program, form, change: bool) -> None:
        programs.program_save(program=obj, actor=Actor.staff(request.user))

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/simulate/",
                self.admin_site.admin_view(self.simulate),
                name="loyalty_program_simulate",
            ),
            *super().get_urls(),
        ]

    def simulate(self, request: HttpRequest, pk: int):
        program = get_object_or_404(Program.objects.select_related("merchant"), pk=pk)
        if not self.has_view_or_change_permission(request, program):
            raise PermissionDenied
        return simulate_view(self, request, program)


class AdjustPointsForm(forms.Form):
    points = forms.IntegerField(help_text="Positive to credit, negative to debit.")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))

    def clean_points(self) -> int:
        if self.cleaned_data["points"] == 0:
            raise forms.ValidationError("Give a non-zero number of points.")
        return self.cleaned_data["points"]


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(label="Yes, erase this personal data", required=True)


class TierChangeInline(ReadOnlyInline):
    model = TierChange
    fk_name = "member"
    list_select_related = ["from_tier", "to_tier"]
    fields = ["created_at", "from_tier", "to_tier", "qualifying_value", "reason", "actor_label"]
    readonly_fields = fields


@admin.register(Member)
class MemberAdmin(RelatedRecordsAdmin, ConfirmActions, StaffImportExportAdmin):
    related = (
        Related("Ledger", "loyalty.ledgerentry", "member"),
        Related("Orders", "loyalty.order", "member"),
        Related("Redemptions", "fulfillment.redemption", "member"),
        Related("Tickets", "customercare.ticket", "member"),
        Related("Achievements", "loyalty.achievementcompletion", "member"),
        Related("Referrals made", "loyalty.referral", "advocate"),
        Related("Referred by", "loyalty.referral", "friend"),
        Related("Messages", "loyalty.membermessage", "member"),
    )

    class Media:
        css = {"all": ["loyalty/admin.css"]}

    resource_classes = [MemberResource]
    formats = [base_formats.CSV, base_formats.XLSX]
    list_display = [
        "external_id",
        "merchant_link",
        "name",
        "email_shown",
        "status_label",
        "tier",
        "balance",
        "pending",
        "shortfall",
    ]
    list_filter = [
        "status",
        ("merchant", RecordFilter),
        "country",
        "has_refund_shortfall",
        "merchant__status",
    ]
    paginator = InfinitePaginator
    merchant_link = link_column("merchant", description="Merchant")
    status_label = state_column(
        "status",
        tones={"active": "success", "blocked": "danger", "anonymised": ""},
        description="Status",
    )
    balance = points_column("points_balance", description="Spendable")
    pending = points_column("pending_points", description="Pending")
    shortfall = yes_no_column(
        "has_refund_shortfall",
        description="Refund shortfall",
        yes="Shortfall",
        no="",
        yes_tone="warning",
    )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A member ends by erasure (the anonymise action): their ledger stays, for the
        # merchant's books and the invoices.
        return False

    @admin.display(description="Name", ordering="last_name")
    def name(self, member: Member) -> str:
        return truncated(member.full_name)

    @admin.display(description="Email", ordering="email")
    def email_shown(self, member: Member) -> str:
        return truncated(member.email)

    search_fields = ["external_id", "email", "last_name", "merchant__slug"]
    list_select_related = ["merchant", "tier"]
    autocomplete_fields = ["merchant"]
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = [
        "status",
        "tier",
        "points_balance",
        "pending_points",
        "lifetime_points",
        "has_refund_shortfall",
        "last_activity_at",
        "anonymised_at",
        "created_at",
        "recent_ledger",
        "recent_orders",
    ]
    fieldsets = [
        (None, {"fields": ["merchant", "external_id", "status"]}),
        (
            "Points",
            {
                "fields": [
                    ("points_balance", "pending_points", "lifetime_points"),
                    ("tier", "has_refund_shortfall"),
                    "last_activity_at",
                ]
            },
        ),
        ("Ledger (newest first)", {"fields": ["recent_ledger"]}),
        ("Orders (newest first)", {"fields": ["recent_orders"]}),
        (
            "Profile",
            {
                "fields": [
                    ("first_name", "last_name"),
                    ("email", "phone"),
                    ("country", "locale"),
                    "birthday",
                    "marketing_consent",
                    "attributes",
                ]
            },
        ),
        ("Record", {"fields": ["created_at", "anonymised_at"], "classes": ["collapse"]}),
    ]
    inlines = [TierChangeInline, AchievementCompletionInline, MemberMessageInline]
    actions = ["adjust_points", "anonymise"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["merchant", "external_id"]
        return fields

    def has_adjust_points_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ADJUST_POINTS_PERMISSION)

    def has_anonymise_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ANONYMISE_PERMISSION)

    def has_export_permission(self, request: HttpRequest) -> bool:
        # Every merchant's members' personal data, not only what the list shows.
        return request.user.has_perm(EXPORT_PERMISSION)

    @admin.display(description="Ledger")
    def recent_ledger(self, member: Member) -> str:
        entries = selectors.ledger_entry_list(merchant=member.merchant, member=member)[:RECENT_ROWS]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{e.created_at:%Y-%m-%d %H:%M}",
                    e.get_kind_display(),
                    f"{e.points:+d}",
                    f"{e.pending:+d}",
                    e.balance_after,
                    e.source_ref or e.source_type,
                    e.reason,
                    e.actor_label,
                )
                for e in entries
            ),
        )
        link = reverse("admin:loyalty_ledgerentry_changelist") + f"?member__id__exact={member.pk}"
        return format_html(
            '<div class="table-scroll" tabindex="0" role="region" aria-label="Ledger">'
            "<table><tr><th>When</th><th>Kind</th><th>Points</th>"
            "<th>Pending</th><th>Balance after</th><th>Source</th><th>Reason</th><th>By</th>"
            "</tr>{}</table></div>"
            '<p><a href="{}">The whole ledger</a> (the last {} are shown)</p>',
            rows,
            link,
            RECENT_ROWS,
        )

    @admin.display(description="Orders")
    def recent_orders(self, member: Member) -> str:
        orders = selectors.order_list(merchant=member.merchant, member=member)[:RECENT_ROWS]
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:loyalty_order_change", args=[o.pk]),
                    o.external_id,
                    f"{o.placed_at:%Y-%m-%d %H:%M}",
                    money_text(o.total, o.currency),
                    o.currency,
                    o.points_earned,
                    o.points_reversed,
                )
                for o in orders
            ),
        )
        return format_html(
            '<div class="table-scroll" tabindex="0" role="region" aria-label="Orders">'
            "<table><tr><th>Order</th><th>Placed</th><th>Total</th>"
            "<th>Earned</th><th>Reversed</th></tr>{}</table></div>",
            rows,
        )

    @admin.action(description="Adjust points…", permissions=["adjust_points"])
    def adjust_points(self, request: HttpRequest, queryset: QuerySet):
        return self.confirm_then_apply(
            request,
            queryset.select_related("merchant"),
            form=self.confirm_form(AdjustPointsForm, request),
            title="Adjust points",
            action="adjust_points",
            call=lambda member, data: members.member_adjust_points(
                merchant=member.merchant,
                member=member,
                points=data["points"],
                reason=data["reason"],
                actor=Actor.staff(request.user),
            ),
            done=lambda entry: f"{entry.points:+d} points, balance {entry.balance_after}.",
        )

    @admin.action(description="Anonymise (erase personal data)…", permissions=["anonymise"])
    def anonymise(self, request: HttpRequest, queryset: QuerySet):
        return self.confirm_then_apply(
            request,
            queryset,
            form=self.confirm_form(ConfirmForm, request),
            title="Erase the personal data of these members (the ledger stays)",
            action="anonymise",
            call=lambda member, data: members.member_anonymise(
                merchant=member.merchant, member=member
            ),
            summary=lambda count: f"{count} member(s) anonymised.",
            apply_to=(
                member
                for member in queryset.select_related("merchant")
                if not members.member_is_anonymised(member=member)
            ),
        )


@admin.register(MemberAttribute)
class MemberAttributeAdmin(ModelAdmin):
    """A merchant's CRM attribute schema: what stores may send in members' attributes."""

    list_display = ["label", "name", "merchant", "type", "choice_list", "is_personal"]
    list_filter = ["type", "is_personal"]
    search_fields = ["name", "label", "merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant"]
    fields = ["merchant", "name", "label", "type", "choices", "is_personal"]
    show_full_result_count = False

    @admin.display(description="Choices")
    def choice_list(self, obj: MemberAttribute) -> str:
        return ", ".join(obj.choices or []) or "—"


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


@admin.register(ExchangeRate)
class ExchangeRateAdmin(StaffImportExportAdmin):
    resource_classes = [ExchangeRateResource]
    formats = [base_formats.CSV, base_formats.XLSX]
    list_display = ["base", "quote", "rate", "as_of", "source"]
    list_filter = ["base", "quote", "source"]
    search_fields = ["base", "quote"]
    date_hierarchy = "as_of"
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: ExchangeRate, form, change: bool) -> None:
        exchange_rates.exchange_rate_save(rate=obj)

    def delete_model(self, request: HttpRequest, obj: ExchangeRate) -> None:
        exchange_rates.exchange_rate_delete(rate=obj)


from loyalty.campaigns import admin as campaigns_admin  # noqa: E402, F401  (registers CampaignAdmin)
from loyalty.referrals import admin as referrals_admin  # noqa: E402, F401  (registers ReferralAdmin)
from loyalty.segments import admin as segments_admin  # noqa: E402, F401  (registers SegmentAdmin)
