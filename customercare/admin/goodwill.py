"""Goodwill adjustments: the list seniors work from (pending first), read-only pages,
and approve or reject, from the list or an adjustment's page, through
``customercare.goodwill``. Requests are made on the ticket page."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.actors import Actor
from core.exceptions import DomainError
from customercare import goodwill
from customercare.admin.forms import ConfirmForm, DecisionNoteForm
from customercare.models import GoodwillAdjustment, GoodwillStatus
from merchants.admin.buttons import NO_SAVE_BUTTONS
from merchants.admin.rights import require_page_action

DECISIONS = {"approve": "Approve and post", "reject": "Reject"}


@admin.register(GoodwillAdjustment)
class GoodwillAdjustmentAdmin(admin.ModelAdmin):
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
            path(
                "<int:pk>/decide/<str:name>/",
                self.admin_site.admin_view(self.decide_view),
                name="customercare_goodwilladjustment_decide",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request: HttpRequest, pk: int, name: str) -> HttpResponse:
        require_page_action(self.page_actions, request, name)
        adjustment = get_object_or_404(GoodwillAdjustment, pk=pk)
        if not self.has_view_or_change_permission(request, adjustment):
            raise PermissionDenied
        queryset = GoodwillAdjustment.objects.filter(pk=pk)
        response = getattr(self, f"{name}_selected")(request, queryset)
        if response is not None:
            return response
        return HttpResponseRedirect(
            reverse("admin:customercare_goodwilladjustment_change", args=[pk])
        )

    # -- actions ---------------------------------------------------------------------------

    def _form_page(self, request: HttpRequest, *, title: str, form, queryset, action: str):
        single = request.resolver_match and request.resolver_match.url_name.endswith("_decide")
        return TemplateResponse(
            request,
            "admin/ops_action_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                "form": form,
                "objects": list(queryset.select_related("ticket")),
                "action": None if single else action,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )

    def _each(self, request: HttpRequest, queryset: QuerySet, call, done: str) -> None:
        for adjustment in queryset.select_related("merchant", "ticket").order_by("pk"):
            label = f"{adjustment.points} points on {adjustment.ticket.reference}"
            try:
                call(adjustment)
            except DomainError as error:
                self.message_user(request, f"{label}: {error.detail}", messages.ERROR)
            else:
                self.message_user(request, f"{label}: {done}", messages.SUCCESS)

    @admin.action(description="Approve and post…", permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet):
        form = ConfirmForm(request.POST if "apply" in request.POST else None)
        if "apply" not in request.POST:
            return self._form_page(
                request,
                title="Approve these goodwill adjustments (each posts to the ledger)",
                form=form,
                queryset=queryset,
                action="approve_selected",
            )
        self._each(
            request,
            queryset,
            lambda a: goodwill.goodwill_approve(adjustment=a, actor=Actor.staff(request.user)),
            "approved and posted.",
        )
        return None

    @admin.action(description="Reject…", permissions=["approve"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet):
        form = DecisionNoteForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._form_page(
                request,
                title="Reject these goodwill adjustments",
                form=form,
                queryset=queryset,
                action="reject_selected",
            )
        note = form.cleaned_data["note"]
        self._each(
            request,
            queryset,
            lambda a: goodwill.goodwill_reject(
                adjustment=a, note=note, actor=Actor.staff(request.user)
            ),
            "rejected.",
        )
        return None
