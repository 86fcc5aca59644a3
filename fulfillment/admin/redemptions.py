"""Redemptions: work queues, the read-only record, and the staff actions.

The record itself is read-only: ``change_redemption`` is the right to work its delivery
(retry, fail over, cancel and refund, deliver by hand, resend the email); adding tracking
and moving a shipment need the shipment permissions, reading a code ``reveal_code``."""

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RangeDateTimeFilter
from unfold.paginator import InfinitePaginator

from core import formatting
from core.actors import Actor
from core.admin.actions import ConfirmActions
from core.admin.buttons import NO_SAVE_BUTTONS
from core.admin.display import (
    link_column,
    moment_column,
    state_column,
    truncated,
    yes_no_column,
)
from core.admin.filters import RecordFilter
from core.admin.forms import ConfirmForm
from core.admin.readonly import ReadOnlyInline
from core.admin.related import Related, RelatedRecordsAdmin
from core.admin.rights import page_action_allowed
from core.admin.search import record_number, search_also
from core.exceptions import DomainError
from fulfillment.admin.forms import DeliverForm, ReasonForm
from fulfillment.admin.queues import AgeFilter, CountryFilter, QueueFilter, SupplierFilter
from fulfillment.admin.shipments import (
    ADD_PERMISSION,
    MOVE_PERMISSION,
    SHIPMENT_ACTIONS,
    ShipmentActions,
    address_text,
    tracking_link,
)
from fulfillment.models import (
    DeliveredCode,
    DeliveryStatus,
    Redemption,
    RedemptionEvent,
    RedemptionStatus,
    Shipment,
    SupplierOrder,
    SupplierOrderStatus,
)
from fulfillment.models.redemptions import OPEN_STATUSES
from fulfillment.services import code_reveals, delivery, interventions
from fulfillment.services.shipments import redemption_ships


def can_reveal(request: HttpRequest) -> bool:
    """Who may read delivered codes in clear."""
    user = request.user
    return user.is_superuser or user.has_perm("fulfillment.reveal_code")


# -- inlines -----------------------------------------------------------------------------


class RecordInline(ReadOnlyInline):
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Part of the redemption's record: whoever may see the redemption sees its rows.
        return request.user.has_perm("fulfillment.view_redemption") or request.user.has_perm(
            "fulfillment.change_redemption"
        )


class RedemptionEventInline(RecordInline):
    model = RedemptionEvent
    list_select_related = ("actor",)
    fields = ["at", "field", "from_value", "to_value", "source", "actor", "note"]
    readonly_fields = fields
    verbose_name_plural = "History"


class SupplierOrderInline(RecordInline):
    model = SupplierOrder
    list_select_related = ("supplier",)
    fields = [
        "attempt",
        "supplier",
        "idempotency_key",
        "status",
        "supplier_ref",
        "tries",
        "next_try_at",
        "error_kind",
        "last_error",
        "cost",
        "cost_currency",
        "stock_reserved",
        "created_at",
        "submitted_at",
        "completed_at",
    ]
    readonly_fields = fields


class ShipmentInline(RecordInline):
    model = Shipment
    list_select_related = ("supplier_order",)
    fields = [
        "status",
        "carrier",
        "tracking",
        "delivery_address",
        "source",
        "supplier_order",
        "shipped_at",
        "delivered_at",
        "updated_at",
    ]
    readonly_fields = fields

    @admin.display(description="Tracking")
    def tracking(self, shipment: Shipment) -> str:
        return tracking_link(shipment)

    @admin.display(description="Address")
    def delivery_address(self, shipment: Shipment) -> str:
        return address_text(shipment.address)


# -- the redemption admin ------------------------------------------------------------------

# The list's labels: a state's colour says whether someone needs to act.
STATUS_TONES = {
    RedemptionStatus.PENDING: "info",
    RedemptionStatus.SUBMITTED: "info",
    RedemptionStatus.FAILED: "danger",
    RedemptionStatus.DELIVERED: "success",
    RedemptionStatus.REFUNDED: "warning",
    RedemptionStatus.CANCELLED: "",
}
STATUS_WORDS = {
    RedemptionStatus.PENDING: "Pending",
    RedemptionStatus.SUBMITTED: "Submitted",
    RedemptionStatus.FAILED: "Failed, retrying",
    RedemptionStatus.DELIVERED: "Delivered",
    RedemptionStatus.REFUNDED: "Refunded",
    RedemptionStatus.CANCELLED: "Cancelled",
}
DELIVERY_WORDS = {
    DeliveryStatus.NONE: "Not yet",
    DeliveryStatus.SENT: "Sent",
    DeliveryStatus.CLAIMED: "Claimed",
}
DELIVERY_TONES = {
    DeliveryStatus.NONE: "",
    DeliveryStatus.SENT: "info",
    DeliveryStatus.CLAIMED: "success",
    DeliveryStatus.SHIPPED: "info",
    DeliveryStatus.RECEIVED: "success",
    DeliveryStatus.RETURNED: "warning",
}

ACTIONS = {
    "retry_now": "Retry now",
    "fail_over": "Fail over to the next offer",
    "cancel_and_refund": "Cancel and refund",
    "mark_delivered": "Mark delivered (manual supplier)",
    "resend_email": "Resend the delivery email",
}
WORK_PERMISSION = "fulfillment.change_redemption"
# A delivered reward can have its email sent again; the rest is for open ones.
DELIVERED_ACTIONS = ("resend_email",)


def redemption_actions(request: HttpRequest, redemption: Redemption) -> list[tuple[str, str]]:
    """The page actions (url, label) that apply to ``redemption`` and this user may take."""
    if redemption.status in OPEN_STATUSES:
        names = tuple(ACTIONS)
    elif delivery.delivery_may_resend(redemption=redemption) and not redemption_ships(redemption):
        names = DELIVERED_ACTIONS
    else:
        names = ()
    return [
        (reverse("admin:fulfillment_redemption_act", args=[redemption.pk, name]), ACTIONS[name])
        for name in names
        if page_action_allowed(RedemptionAdmin.page_actions, request, name)
    ]


@admin.register(Redemption)
class RedemptionAdmin(RelatedRecordsAdmin, ShipmentActions, ConfirmActions, ModelAdmin):
    related = (
        Related("Supplier attempts", "fulfillment.supplierorder", "redemption"),
        Related("Shipments", "fulfillment.shipment", "redemption"),
        Related("Tickets", "customercare.ticket", "redemption"),
    )
    list_display = [
        "number",
        "created",
        "merchant_link",
        "member_link",
        "reward_name",
        "value",
        "status_label",
        "delivery_label",
        "supplier",
        "care",
    ]
    list_display_links = ["number"]
    list_filter = [
        QueueFilter,
        "status",
        SupplierFilter,
        CountryFilter,
        ("merchant", RecordFilter),
        ("member", RecordFilter),
        ("created_at", RangeDateTimeFilter),
        AgeFilter,
        "needs_care",
    ]
    list_filter_submit = True
    paginator = InfinitePaginator
    # unfold renders a list cell by cell (each one looks at every column's header): 50
    # rows of these 12 columns are a page's work, 100 were two.
    list_per_page = 50
    list_select_related = ["merchant", "member", "reward"]
    search_fields = ["=public_id", "=external_id", "=member__external_id"]
    show_full_result_count = False
    actions = [*ACTIONS, *SHIPMENT_ACTIONS]
    # The redemption page's actions (``<pk>/act/<name>/``), each with its permission.
    page_actions = {
        **dict.fromkeys(ACTIONS, WORK_PERMISSION),
        "add_tracking": ADD_PERMISSION,
        "move_shipment": MOVE_PERMISSION,
    }
    inlines = [SupplierOrderInline, ShipmentInline, RedemptionEventInline]
    fieldsets = [
        (None, {"fields": ["public_id", "merchant", "member", "external_id", "status"]}),
        (
            "What was bought",
            {
                "fields": [
                    "reward",
                    ("face_value", "face_currency", "quantity"),
                    ("points_each", "points_total"),
                    ("program_currency", "point_value", "rate_used"),
                    "country",
                    "recipient",
                ]
            },
        ),
        ("Delivery", {"fields": ["delivery_status", "delivered_codes", "delivered_at"]}),
        (
            "Care and points",
            {"fields": ["needs_care", "care_reason", "spend_entry", "refund_entry"]},
        ),
        ("Record", {"fields": ["created_at", "updated_at", "closed_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        latest = SupplierOrder.objects.filter(redemption=OuterRef("pk")).order_by("-attempt")
        return (
            super()
            .get_queryset(request)
            .annotate(
                supplier_name=Subquery(latest.values("supplier__name")[:1]),
                latest_order_status=Subquery(latest.values("status")[:1]),
            )
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [
            name
            for _, options in self.fieldsets
            for row in options["fields"]
            for name in (row if isinstance(row, tuple) else (row,))
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        # The number the list shows (#12), typed with or without its "#".
        found, duplicates = super().get_search_results(request, queryset, search_term)
        number = record_number(search_term)
        also = Q(pk=number) if number is not None else None
        return search_also(found, queryset, also), duplicates

    @admin.display(description="#", ordering="id")
    def number(self, redemption: Redemption) -> str:
        return f"#{redemption.pk}"

    created = moment_column("created_at", description="Redeemed")
    merchant_link = link_column("merchant", description="Merchant")
    member_link = link_column(
        "member", description="Member", text=lambda member: member.external_id
    )
    status_label = state_column(
        "status", tones=STATUS_TONES, words=STATUS_WORDS, description="Status"
    )
    delivery_label = state_column(
        "delivery_status", tones=DELIVERY_TONES, words=DELIVERY_WORDS, description="Delivery"
    )
    care = yes_no_column("needs_care", description="Care", yes="Care", no="", yes_tone="danger")

    @admin.display(description="Reward", ordering="reward__name")
    def reward_name(self, redemption: Redemption) -> str:
        return truncated(str(redemption.reward))

    @admin.display(description="Value")
    def value(self, redemption: Redemption) -> str:
        face = formatting.money(redemption.face_value, redemption.face_currency)
        return face if redemption.quantity == 1 else f"{redemption.quantity} \u00d7 {face}"

    @admin.display(description="Supplier", ordering="supplier_name")
    def supplier(self, redemption: Redemption) -> str:
        name = getattr(redemption, "supplier_name", None)
        if not name:
            return formatting.MISSING
        status = getattr(redemption, "latest_order_status", None)
        words = SupplierOrderStatus(status).label if status else ""
        return truncated(f"{name} · {words}" if words else name)

    @admin.display(description="Codes")
    def delivered_codes(self, redemption: Redemption) -> str:
        codes = DeliveredCode.objects.filter(redemption=redemption)
        rows = format_html_join(
            "",
            "<tr><td>#{}</td><td><code>{}</code></td><td>{}</td></tr>",
            ((code.pk, code.masked, code.expires_on or "") for code in codes),
        )
        if not rows:
            return "-"
        return format_html(
            "<table><tr><th>Code</th><th>Masked</th><th>Expires</th></tr>{}</table>", rows
        )

    # -- pages -------------------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        extra = {**NO_SAVE_BUTTONS, **(extra_context or {})}
        redemption = self.get_object(request, object_id)
        if redemption is not None:
            extra["staff_actions"] = [
                *redemption_actions(request, redemption),
                *self.shipment_links(request, redemption),
            ]
        if redemption is not None and can_reveal(request):
            extra["reveal_links"] = [
                (
                    code.masked,
                    reverse("admin:fulfillment_redemption_reveal", args=[redemption.pk, code.pk]),
                )
                for code in DeliveredCode.objects.filter(redemption=redemption)
            ]
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self) -> list:
        return [
            *self.page_action_urls(),
            path(
                "<int:pk>/codes/<int:code_id>/reveal/",
                self.admin_site.admin_view(self.reveal_view),
                name="fulfillment_redemption_reveal",
            ),
            *super().get_urls(),
        ]

    def reveal_view(self, request: HttpRequest, pk: int, code_id: int) -> HttpResponse:
        """Confirm, then show one code in clear (recorded as a reveal)."""
        redemption = get_object_or_404(Redemption, pk=pk)
        if not (self.has_view_permission(request, redemption) and can_reveal(request)):
            raise PermissionDenied
        code = get_object_or_404(DeliveredCode, pk=code_id, redemption=redemption)
        clear = None
        if request.method == "POST":
            clear = code_reveals.code_reveal(
                code=code, via="admin", actor=Actor.staff(request.user)
            )
        response = TemplateResponse(
            request,
            "admin/fulfillment/redemption/reveal.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Code #{code.pk} of redemption #{redemption.pk}",
                "redemption": redemption,
                "code": code,
                "clear": clear,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    # -- actions -----------------------------------------------------------------------

    def _each_redemption(self, request: HttpRequest, queryset: QuerySet, **kwargs):
        return self.confirm_then_apply(
            request, queryset.order_by("pk"), label=lambda r: f"#{r.pk}", **kwargs
        )

    @admin.action(description="Retry now (same key)…", permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet):
        return self._each_redemption(
            request,
            queryset,
            form=self.confirm_form(ConfirmForm, request),
            title="Make their supplier orders due now",
            action="retry_now",
            call=lambda r, data: interventions.redemption_retry_now(
                redemption=r, actor=Actor.staff(request.user)
            ),
            done="due now.",
        )

    @admin.action(description="Resend the delivery email…", permissions=["change"])
    def resend_email(self, request: HttpRequest, queryset: QuerySet):
        return self._each_redemption(
            request,
            queryset,
            form=self.confirm_form(ConfirmForm, request),
            title="Send the members their claim link again",
            action="resend_email",
            call=lambda r, data: delivery.delivery_email_send(
                redemption=r,
                base_url=settings.PUBLIC_BASE_URL,
                resend=True,
                actor=Actor.staff(request.user),
            ),
            done="email sent again.",
        )

    @admin.action(description="Fail over to the next offer…", permissions=["change"])
    def fail_over(self, request: HttpRequest, queryset: QuerySet):
        return self._each_redemption(
            request,
            queryset,
            form=self.confirm_form(ReasonForm, request),
            title="Fail over to the next offer (or refund when none is left)",
            action="fail_over",
            call=lambda r, data: interventions.redemption_fail_over(
                redemption=r, reason=data["reason"], actor=Actor.staff(request.user)
            ),
            done="failed over.",
        )

    @admin.action(description="Cancel and refund the points…", permissions=["change"])
    def cancel_and_refund(self, request: HttpRequest, queryset: QuerySet):
        return self._each_redemption(
            request,
            queryset,
            form=self.confirm_form(ReasonForm, request),
            title="Cancel and give the points back",
            action="cancel_and_refund",
            call=lambda r, data: interventions.redemption_cancel(
                redemption=r, reason=data["reason"], actor=Actor.staff(request.user)
            ),
            done="cancelled, points given back.",
        )

    @admin.action(description="Mark delivered (manual supplier)…", permissions=["change"])
    def mark_delivered(self, request: HttpRequest, queryset: QuerySet):
        redemptions = list(queryset[:2])
        if len(redemptions) != 1:
            self.message_user(request, "Mark one redemption at a time.", messages.ERROR)
            return None
        (redemption,) = redemptions
        order = (
            SupplierOrder.objects.filter(
                redemption=redemption,
                status=SupplierOrderStatus.SUBMITTED,
                supplier__adapter=interventions.MANUAL_ADAPTER,
            )
            .order_by("-attempt")
            .first()
        )
        if order is None:
            self.message_user(
                request,
                f"#{redemption.pk}: no submitted order of a manual supplier to deliver.",
                messages.ERROR,
            )
            return None
        form = self.confirm_form(DeliverForm, request)
        if form.is_valid():
            try:
                interventions.manual_order_deliver(
                    supplier_order=order,
                    codes=form.code_list(),
                    tracking=form.tracking(),
                    actor=Actor.staff(request.user),
                )
            except DomainError as error:
                form.add_error(None, error.detail)
            else:
                self.message_user(request, f"#{redemption.pk}: delivered.", messages.SUCCESS)
                return None
        return self.confirm_page(
            request,
            title=f"Deliver {order.idempotency_key} by hand",
            form=form,
            objects=queryset,
            action="mark_delivered",
        )
