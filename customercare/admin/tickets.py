"""The ticket list (filters, search, the work queue sorted by due time) and the ticket
page: the thread, reply and note forms with canned replies, the status, priority,
category and assignee, take it, merge, goodwill, the linked redemption's resend and
reissue, the history, and the member's unified view beside it.

Every change calls a service (``customercare.services``, ``customercare.goodwill``,
``fulfillment.services.delivery``, ``fulfillment.services.reissue``; the page's actions are in
``ticket_actions``, the member's panel in ``member_view``); nothing here writes a model. A form
that does not validate, or that a service refuses, comes back on the page with the
reason and changes nothing.

Who may do what: seeing the page needs ``view_ticket`` (or ``change_ticket``); working
it (replies, moves, take, merge, resend) ``change_ticket``; requesting goodwill
``add_goodwilladjustment``; approving or rejecting goodwill ``approve_goodwill`` and
reissuing a reward (a second purchase at the provider's cost) ``reissue_reward``, the
senior agents' rights (``ticket_actions.ACTIONS`` lists each action's permission).
"""

from functools import partial
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, Q, QuerySet, When
from django.forms import Form
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RangeDateTimeFilter
from unfold.paginator import InfinitePaginator

from core import formatting
from core.actors import Actor
from core.admin.actions import ConfirmActions
from core.admin.display import link_column, moment_text, state_column, truncated
from core.admin.filters import RecordFilter
from core.admin.search import search_also
from customercare import canned, goodwill, selectors, services
from customercare.admin.forms import (
    AssignForm,
    CategoryForm,
    GoodwillForm,
    MergeForm,
    NoteForm,
    PriorityForm,
    ReasonForm,
    RejectForm,
    ReplyForm,
    StatusForm,
    care_agents,
)
from customercare.admin.member_tab import open_ticket_view
from customercare.admin.member_view import admin_link, member_view, points_name
from customercare.admin.reports import ReportsMixin
from customercare.admin.ticket_actions import (
    ACTIONS,
    GOODWILL_REQUEST,
    REISSUE,
    SENIOR,
    WORK,
    TicketActionsMixin,
)
from customercare.admin.ticket_words import SLA_TONES, STATUS_TONES, STATUS_WORDS
from customercare.attachments import attachment_download
from customercare.models import (
    UNRESOLVED_STATUSES,
    GoodwillAdjustment,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketMessage,
    TicketPriority,
)
from customercare.models.tickets import reference_prefix
from customercare.queues import QUEUE_STATUSES, sla_at_risk
from fulfillment.services.delivery import delivery_may_resend
from fulfillment.services.reissue import redemption_may_reissue
from fulfillment.vouchers import member_language

# Queue: tickets whose clock runs, the soonest due first.


# -- list filters ----------------------------------------------------------------------------


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin) -> list[tuple]:
        agents = [(str(pk), name) for pk, name in care_agents().values_list("pk", "username")]
        return [("mine", "Mine"), ("none", "Unassigned"), *agents]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or ""
        if value == "mine":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset


class QueueFilter(admin.SimpleListFilter):
    """The work queue: new and open tickets, the soonest due first (the list's ordering
    follows this filter; see ``TicketAdmin.get_ordering``)."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin) -> list[tuple]:
        return [
            ("due", "Work queue (new and open, soonest due first)"),
            ("sla", "Breached or due within the hour"),
            ("open", "Every unresolved ticket"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "due":
            return queryset.filter(status__in=QUEUE_STATUSES)
        if self.value() == "sla":
            return sla_at_risk(queryset, now=timezone.now())
        if self.value() == "open":
            return queryset.filter(status__in=UNRESOLVED_STATUSES)
        return queryset


def next_due() -> Case:
    """The due time that comes next: the first response's until there is one."""
    return Case(
        When(first_responded_at__isnull=True, then=F("first_response_due_at")),
        default=F("resolution_due_at"),
    )


# -- the ticket admin --------------------------------------------------------------------------


@admin.register(Ticket)
class TicketAdmin(TicketActionsMixin, ReportsMixin, ConfirmActions, ModelAdmin):
    list_display = [
        "reference",
        "subject_shown",
        "merchant_link",
        "member_link",
        "status_label",
        "priority_label",
        "sla",
        "assignee",
        "due",
    ]
    list_display_links = ["reference"]
    merchant_link = link_column("merchant", description="Merchant")
    member_link = link_column(
        "member",
        description="Member",
        text=lambda member: truncated(member.email or member.external_id),
        ordering="member__email",
    )
    status_label = state_column(
        "status", tones=STATUS_TONES, words=STATUS_WORDS, description="Status"
    )
    priority_label = state_column(
        "priority",
        tones={
            TicketPriority.LOW: "",
            TicketPriority.NORMAL: "",
            TicketPriority.HIGH: "warning",
            TicketPriority.URGENT: "danger",
        },
        description="Priority",
    )
    sla = state_column("sla_state", tones=SLA_TONES, description="SLA")

    @admin.display(description="Subject", ordering="subject")
    def subject_shown(self, ticket: Ticket) -> str:
        return truncated(ticket.subject)

    list_filter = [
        QueueFilter,
        AssigneeFilter,
        "status",
        "priority",
        "sla_state",
        "category",
        ("merchant", RecordFilter),
        ("created_at", RangeDateTimeFilter),
    ]
    list_filter_submit = True
    paginator = InfinitePaginator
    list_select_related = ["merchant", "member", "assignee"]
    search_fields = ["=reference", "=member__email", "=member__external_id"]
    search_help_text = (
        "A ticket reference or its start (T-7K…), or the member's email or external id (exact)."
    )
    show_full_result_count = False
    list_per_page = 50
    actions = ["take_selected"]
    # The ticket page's actions (``<pk>/act/<name>/``), each with its permission.
    page_actions = ACTIONS
    change_list_template = "admin/customercare/ticket/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(next_due_at=next_due())

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        found, duplicates = super().get_search_results(request, queryset, search_term)
        prefix = reference_prefix(search_term)
        also = Q(reference__startswith=prefix) if prefix else None
        return search_also(found, queryset, also), duplicates

    def get_ordering(self, request: HttpRequest) -> list[str]:
        if request.GET.get(QueueFilter.parameter_name) in {"due", "sla"}:
            return [F("next_due_at").asc(nulls_last=True), "created_at", "id"]
        return ["-created_at", "-id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tickets are opened by members, stores and the system, through the service.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Due", ordering="next_due_at")
    def due(self, ticket: Ticket) -> str:
        due_at = getattr(ticket, "next_due_at", None)
        if due_at is None or ticket.status not in UNRESOLVED_STATUSES:
            return formatting.MISSING
        text = moment_text(due_at)
        if due_at < timezone.now():
            return format_html('<strong class="overdue">Overdue</strong><br>{}', text)
        return text

    @admin.action(description="Take the selected tickets", permissions=["change"])
    def take_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply_each(
            request,
            queryset.order_by("pk"),
            lambda ticket: services.ticket_take(ticket=ticket, actor=Actor.staff(request.user)),
            done="yours now.",
            label=lambda ticket: ticket.reference,
        )

    # -- urls ------------------------------------------------------------------------------

    def get_urls(self) -> list:
        return [
            *self.page_action_urls(view=self.act_view),
            path(
                "open/<int:member_pk>/",
                self.admin_site.admin_view(partial(open_ticket_view, self)),
                name="customercare_ticket_open",
            ),
            path(
                "<int:pk>/attachments/<int:attachment_id>/",
                self.admin_site.admin_view(self.attachment_view),
                name="customercare_ticket_attachment",
            ),
            *self.report_urls(),
            *super().get_urls(),
        ]

    def _ticket(self, pk: Any) -> Ticket:
        if not str(pk).isdigit():
            raise Http404
        return get_object_or_404(
            Ticket.objects.select_related(
                "merchant",
                "member__tier",
                "assignee",
                "redemption__reward",
                "order",
                "merged_into",
            ),
            pk=pk,
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        if request.method != "GET":
            # Changes go through the page's forms, each to its service.
            return HttpResponseNotAllowed(["GET"])
        ticket = self._ticket(object_id)
        if not self.has_view_or_change_permission(request, ticket):
            raise PermissionDenied
        return self._page(request, ticket)

    def attachment_view(self, request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
        """A message's file, to staff who may see the ticket, always as a download."""
        ticket = self._ticket(pk)
        if not self.has_view_or_change_permission(request, ticket):
            raise PermissionDenied
        attachment = get_object_or_404(
            TicketAttachment, pk=attachment_id, message__ticket_id=ticket.pk
        )
        response = attachment_download(attachment)
        if response is None:
            raise Http404("The file is missing from storage.")
        return response

    # -- the page --------------------------------------------------------------------------

    def _forms(self, request: HttpRequest, ticket: Ticket, replies: list) -> dict[str, Form]:
        user = request.user
        forms: dict[str, Form] = {}
        if user.has_perm(WORK):
            forms.update(
                reply=ReplyForm(prefix="reply", replies=replies),
                note=NoteForm(prefix="note"),
                status=StatusForm(prefix="status", ticket=ticket),
                priority=PriorityForm(prefix="priority", initial={"priority": ticket.priority}),
                category=CategoryForm(prefix="category", initial={"category": ticket.category}),
                assign=AssignForm(prefix="assign", initial={"assignee": ticket.assignee_id}),
                merge=MergeForm(prefix="merge", ticket=ticket),
            )
        if user.has_perm(GOODWILL_REQUEST):
            forms["goodwill"] = GoodwillForm(prefix="goodwill")
        if user.has_perm(SENIOR):
            forms["reject"] = RejectForm(prefix="reject")
        if user.has_perm(REISSUE) and ticket.redemption is not None:
            forms["reissue"] = ReasonForm(prefix="reissue")
        return forms

    def _page(
        self,
        request: HttpRequest,
        ticket: Ticket,
        bound: dict[str, Form] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        user = request.user
        points = points_name(ticket)
        replies = canned.canned_replies_for(merchant=ticket.merchant)
        values = canned.canned_values(ticket=ticket, points_name=points)
        language = member_language(ticket.member)
        canned_texts = {
            str(reply.pk): canned.canned_text(reply, language=language, values=values)
            for reply in replies
        }
        forms = {**self._forms(request, ticket, replies), **(bound or {})}
        thread = list(
            TicketMessage.objects.filter(ticket=ticket)
            .select_related("author")
            .prefetch_related("attachments")
        )
        adjustments = list(
            GoodwillAdjustment.objects.filter(ticket=ticket)
            .select_related("requested_by", "decided_by", "ledger_entry")
            .order_by("-created_at", "-id")
        )
        terms = selectors.care_settings_for(merchant=ticket.merchant)
        redemption = ticket.redemption
        may_work = user.has_perm(WORK)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{ticket.reference} {ticket.subject}",
            "ticket": ticket,
            "thread": thread,
            "events": list(
                TicketEvent.objects.filter(ticket=ticket)
                .select_related("actor")
                .order_by("-created_at", "-id")
            ),
            "forms": forms,
            "canned_texts": canned_texts,
            "points_name": points,
            "adjustments": adjustments,
            "goodwill_threshold": terms.goodwill_approval_threshold,
            "goodwill_limit": terms.goodwill_max_per_30_days,
            "goodwill_counted": goodwill.goodwill_counted(
                member_id=ticket.member_id, now=timezone.now()
            )
            if "goodwill" in forms
            else None,
            "may_work": may_work,
            "may_approve": user.has_perm(SENIOR),
            "is_open": services.ticket_is_open(ticket=ticket),
            "may_take": may_work and ticket.assignee_id != user.pk,
            "has_merge_targets": "merge" in forms
            and (forms["merge"].errors or forms["merge"].fields["into"].queryset.exists()),
            "redemption": redemption,
            "may_resend": may_work
            and redemption is not None
            and delivery_may_resend(redemption=redemption),
            "may_reissue": user.has_perm(REISSUE)
            and redemption is not None
            and redemption_may_reissue(redemption=redemption),
            "redemption_url": admin_link(
                request,
                ("fulfillment.view_redemption", "fulfillment.change_redemption"),
                reverse("admin:fulfillment_redemption_change", args=[redemption.pk]),
            )
            if redemption is not None
            else "",
            "urls": {
                name: reverse("admin:customercare_ticket_act", args=[ticket.pk, name])
                for name in ACTIONS
            },
            **member_view(request, ticket),
        }
        return TemplateResponse(
            request, "admin/customercare/ticket/ticket.html", context, status=status
        )
