"""Members' requests to delete their account: the queue ops work from (waiting first,
oldest first), read-only pages with each request's history, and approve or reject from
the list through ``customercare.account_deletion``. The decision needs the right to
anonymise a member; reading the queue, ``view_accountdeletionrequest``."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin

from core import formatting
from core.actors import Actor
from core.admin.actions import ConfirmActions
from customercare import account_deletion
from customercare.models import AccountDeletionRequest, DeletionStatus


class ApproveForm(forms.Form):
    note = forms.CharField(
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Optional; kept in the request's history (how the identity was checked).",
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Sent to the member, and kept in the request's history.",
    )


@admin.register(AccountDeletionRequest)
class AccountDeletionRequestAdmin(ConfirmActions, ModelAdmin):
    list_display = [
        "created_at",
        "merchant",
        "member_link",
        "status",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["status", "merchant"]
    list_select_related = ["merchant", "member", "decided_by"]
    search_fields = ["=member__external_id", "=member__email"]
    show_full_result_count = False
    actions = ["approve_selected", "reject_selected"]
    fields = [
        "merchant",
        "member_link",
        "reason",
        "status",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_note",
        "emailed_at",
        "history",
    ]
    readonly_fields = fields

    def get_ordering(self, request: HttpRequest) -> list:
        waiting_first = Case(
            When(status=DeletionStatus.REQUESTED, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return [waiting_first.asc(), "created_at", "id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # asked by the member in the portal

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # decided by the actions, through the service

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(account_deletion.DECIDE_PERMISSION)

    @admin.display(description="Member", ordering="member__external_id")
    def member_link(self, request_row: AccountDeletionRequest) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:loyalty_member_change", args=[request_row.member_id]),
            request_row.member.external_id,
        )

    @admin.display(description="History")
    def history(self, request_row: AccountDeletionRequest) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    formatting.moment(event.created_at, timezone.get_current_timezone()),
                    f"{event.from_status or '—'} → {event.to_status}",
                    event.actor.get_username() if event.actor_id else event.source,
                    event.note,
                )
                for event in request_row.events.select_related("actor")
            ),
        )
        return format_html(
            "<table><tr><th>When</th><th>Move</th><th>Who</th><th>Why</th></tr>{}</table>",
            rows,
        )

    def _each(self, request: HttpRequest, queryset: QuerySet, **kwargs):
        waiting = queryset.select_related("merchant", "member").order_by("pk")
        return self.confirm_then_apply(
            request,
            waiting,
            label=lambda r: f"{r.member.external_id} of {r.merchant.name}",
            apply_to=(
                r for r in waiting if account_deletion.account_deletion_may_decide(request=r)
            ),
            **kwargs,
        )

    @admin.action(
        description="Approve and delete (anonymise, the ledger stays)…", permissions=["decide"]
    )
    def approve_selected(self, request: HttpRequest, queryset: QuerySet):
        return self._each(
            request,
            queryset,
            form=self.confirm_form(ApproveForm, request),
            title="Delete these members' accounts: their personal data is erased for good",
            action="approve_selected",
            call=lambda r, data: account_deletion.account_deletion_approve(
                request=r, note=data["note"], actor=Actor.staff(request.user)
            ),
            done="deleted; the member is told.",
        )

    @admin.action(description="Reject…", permissions=["decide"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet):
        return self._each(
            request,
            queryset,
            form=self.confirm_form(RejectForm, request),
            title="Reject these deletion requests",
            action="reject_selected",
            call=lambda r, data: account_deletion.account_deletion_reject(
                request=r, reason=data["reason"], actor=Actor.staff(request.user)
            ),
            done="rejected; the member is told why.",
        )
