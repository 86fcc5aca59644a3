"""Goodwill adjustments: the list seniors work from (pending first), read-only pages,
and approve or reject, from the list or an adjustment's page, through
``customercare.goodwill``. Requests are made on the ticket page."""

from typing import Any

from django.contrib import admin
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from core.actors import Actor
from core.admin.actions import ConfirmActions
from core.admin.buttons import NO_SAVE_BUTTONS
from core.admin.forms import ConfirmForm
from customercare import goodwill
from customercare.admin.forms import DecisionNoteForm
from customercare.models import GoodwillAdjustment, GoodwillStatus

DECISIONS = {"approve": "Approve and post", "reject": "Reject"}


@admin.register(GoodwillAdjustment)
class GoodwillAdjustmentAdmin(ConfirmActions, ModelAdmin):
    list_display = [
        "created_at",
        "ticket_link",
        "merchant",
        "member",
        "points",
        "reason",
        "status",
        "requested_by",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["status", "reason", "merchant"]
    list_select_related = ["ticket", "merchant", "member", "requested_by", "decided_by"]
    search_fields = ["=ticket__reference", "=member__external_id", "=member__email"]
    show_full_result_count = False
    actions = ["approve_selected", "reject_selected"]
    # The adjustment page's decisions (``<pk>/decide/<name>/``).
    page_actions = dict.fromkeys(DECISIONS, goodwill.APPROVE_PERMISSION)
    change_form_template = "admin/customercare/goodwilladjustment/change_form.html"
    fields = [
        "ticket_link",
        "merchant",
        "member",
        "points",
        "reason",
        "note",
        "status",
        "requested_by",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_note",
        "ledger_entry",
    ]
    readonly_fields = fields

    def get_ordering(self, request: HttpRequest) -> list:
        pending_first = Case(
            When(status=GoodwillStatus.PENDING_APPROVAL, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return [pending_first.asc(), "-created_at", "-id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # requested from the ticket, through the service

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(goodwill.APPROVE_PERMISSION)

    @admin.display(description="Ticket", ordering="ticket__reference")
    def ticket_link(self, adjustment: GoodwillAdjustment) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:customercare_ticket_change", args=[adjustment.ticket_id]),
            adjustment.ticket.reference,
        )

    # -- pages -----------------------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        extra = {**NO_SAVE_BUTTONS, **(extra_context or {})}
        adjustment = self.get_object(request, object_id)
        if (
            adjustment is not None
            and adjustment.status == GoodwillStatus.PENDING_APPROVAL
            and self.has_approve_permission(request)
            and adjustment.requested_by_id != request.user.pk
        ):
            extra["decision_links"] = [
                (
                    reverse(
                        "admin:customercare_goodwilladjustment_decide", args=[adjustment.pk, name]
                    ),
                    label,
                )
                for name, label in DECISIONS.items()
            ]
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self) -> list:
        return [
            *self.page_action_urls(segment="decide"),
            *super().get_urls(),
        ]

    def page_action_method(self, name: str):
        return getattr(self, f"{name}_selected")

    # -- actions ---------------------------------------------------------------------------

    def _each_adjustment(self, request: HttpRequest, queryset: QuerySet, **kwargs):
        return self.confirm_then_apply(
            request,
            queryset.select_related("merchant", "ticket").order_by("pk"),
            label=lambda a: f"{a.points} points on {a.ticket.reference}",
            **kwargs,
        )

    @admin.action(description="Approve and post…", permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet):
        return self._each_adjustment(
            request,
            queryset,
            form=self.confirm_form(ConfirmForm, request),
            title="Approve these goodwill adjustments (each posts to the ledger)",
            action="approve_selected",
            call=lambda a, data: goodwill.goodwill_approve(
                adjustment=a, actor=Actor.staff(request.user)
            ),
            done="approved and posted.",
        )

    @admin.action(description="Reject…", permissions=["approve"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet):
        return self._each_adjustment(
            request,
            queryset,
            form=self.confirm_form(DecisionNoteForm, request),
            title="Reject these goodwill adjustments",
            action="reject_selected",
            call=lambda a, data: goodwill.goodwill_reject(
                adjustment=a, note=data["note"], actor=Actor.staff(request.user)
            ),
            done="rejected.",
        )
