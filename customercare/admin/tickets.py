"""The ticket list (filters, search, the work queue sorted by due time) and the ticket
page: the thread, reply and note forms with canned replies, the status, priority,
category and assignee, take it, merge, goodwill, the linked redemption's resend and
reissue, the history, and the member's unified view beside it.

Every change calls a service (``customercare.services``, ``customercare.goodwill``,
``fulfillment.delivery``, ``fulfillment.reissue``); nothing here writes a model. A form
that does not validate, or that a service refuses, comes back on the page with the
reason and changes nothing.

Who may do what: seeing the page needs ``view_ticket`` (or ``change_ticket``); working
it (replies, moves, take, merge, resend) ``change_ticket``; requesting goodwill
``add_goodwilladjustment``; approving or rejecting goodwill, and reissuing a reward (a
second purchase at the provider's cost), ``approve_goodwill``, the senior agents' right.
"""

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, QuerySet, When
from django.forms import Form
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from customercare import canned, goodwill, selectors, services
from customercare.admin.forms import (
    AdjustmentForm,
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
from customercare.admin.reports import ReportsMixin
from customercare.models import (
    UNRESOLVED_STATUSES,
    GoodwillAdjustment,
    GoodwillStatus,
    SLAState,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketMessage,
    TicketStatus,
)
from fulfillment import delivery
from fulfillment.models import Redemption, RedemptionEvent, RedemptionStatus
from fulfillment.reissue import redemption_reissue
from fulfillment.vouchers import member_language
from loyalty.exceptions import NoActiveProgram
from loyalty.models import LedgerEntry, Order
from loyalty.services import program_get_active
from merchants.exceptions import DomainError

WORK = "customercare.change_ticket"
GOODWILL_REQUEST = "customercare.add_goodwilladjustment"
SENIOR = goodwill.APPROVE_PERMISSION
# The member view beside the thread.
RECENT_ORDERS = 5
RECENT_LEDGER = 10
RECENT_REDEMPTIONS = 10
# Queue: tickets whose clock runs, the soonest due first.
QUEUE_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN)


# -- list filters ----------------------------------------------------------------------------


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
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

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [
            ("due", "Work queue (new and open, soonest due first)"),
            ("open", "Every unresolved ticket"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "due":
            return queryset.filter(status__in=QUEUE_STATUSES)
        if self.value() == "open":
            return queryset.filter(status__in=UNRESOLVED_STATUSES)
        return queryset


def next_due() -> Case:
    """The due time that comes next: the first response's until there is one."""
    return Case(
        When(first_responded_at__isnull=True, then=F("first_response_due_at")),
        default=F("resolution_due_at"),
    )


def _points_name(ticket: Ticket) -> str:
    try:
        return program_get_active(merchant=ticket.merchant).points_name
    except NoActiveProgram:
        return "points"


# -- the member's unified view -----------------------------------------------------------------


def _link(request: HttpRequest, perms: tuple[str, ...], url: str) -> str:
    return url if any(request.user.has_perm(perm) for perm in perms) else ""


def member_view(request: HttpRequest, ticket: Ticket) -> dict[str, Any]:
    """Balance, tier, the last orders, ledger entries and redemptions, with links to
    their pages for staff who may open them."""
    member = ticket.member
    orders = list(Order.objects.filter(member=member).order_by("-placed_at", "-id")[:RECENT_ORDERS])
    ledger = list(
        LedgerEntry.objects.filter(member=member).order_by("-created_at", "-id")[:RECENT_LEDGER]
    )
    redemptions = list(
        Redemption.objects.filter(member=member)
        .select_related("reward")
        .order_by("-created_at", "-id")[:RECENT_REDEMPTIONS]
    )
    view_order = ("loyalty.view_order", "loyalty.change_order")
    view_redemption = ("fulfillment.view_redemption", "fulfillment.change_redemption")
    return {
        "member": member,
        "member_url": _link(
            request,
            ("loyalty.view_member", "loyalty.change_member"),
            reverse("admin:loyalty_member_change", args=[member.pk]),
        ),
        "ledger_url": _link(
            request,
            ("loyalty.view_ledgerentry",),
            reverse("admin:loyalty_ledgerentry_changelist") + f"?member__id__exact={member.pk}",
        ),
        "orders": [
            (
                order,
                _link(request, view_order, reverse("admin:loyalty_order_change", args=[order.pk])),
            )
            for order in orders
        ],
        "ledger": ledger,
        "redemptions": [
            (
                redemption,
                _link(
                    request,
                    view_redemption,
                    reverse("admin:fulfillment_redemption_change", args=[redemption.pk]),
                ),
            )
            for redemption in redemptions
        ],
    }


# -- the ticket admin --------------------------------------------------------------------------

# Action name -> the permission it needs.
ACTIONS = {
    "reply": WORK,
    "note": WORK,
    "status": WORK,
    "priority": WORK,
    "category": WORK,
    "assign": WORK,
    "take": WORK,
    "merge": WORK,
    "resend": WORK,
    "goodwill": GOODWILL_REQUEST,
    "goodwill_approve": SENIOR,
    "goodwill_reject": SENIOR,
    "reissue": SENIOR,
}


@admin.register(Ticket)
class TicketAdmin(ReportsMixin, admin.ModelAdmin):
    list_display = [
        "reference",
        "subject",
        "merchant",
        "member_email",
        "status",
        "priority",
        "category",
        "sla",
        "assignee",
        "due",
        "created_at",
    ]
    list_filter = [
        QueueFilter,
        AssigneeFilter,
        "status",
        "priority",
        "sla_state",
        "category",
        "merchant",
    ]
    list_select_related = ["merchant", "member", "assignee"]
    search_fields = ["=reference", "=member__email", "=member__external_id"]
    search_help_text = "A ticket reference, or the member's email or external id (exact)."
    show_full_result_count = False
    list_per_page = 50
    actions = ["take_selected"]
    change_list_template = "admin/customercare/ticket/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(next_due_at=next_due())

    def get_ordering(self, request: HttpRequest) -> list[str]:
        if request.GET.get(QueueFilter.parameter_name) == "due":
            return [F("next_due_at").asc(nulls_last=True), "created_at", "id"]
        return ["-created_at", "-id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tickets are opened by members, stores and the system, through the service.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Member", ordering="member__email")
    def member_email(self, ticket: Ticket) -> str:
        return ticket.member.email or ticket.member.external_id

    @admin.display(description="SLA", ordering="sla_state")
    def sla(self, ticket: Ticket) -> str:
        if ticket.sla_state == SLAState.BREACHED:
            return format_html("<strong>{}</strong>", ticket.get_sla_state_display())
        return ticket.get_sla_state_display()

    @admin.display(description="Due", ordering="next_due_at")
    def due(self, ticket: Ticket) -> str:
        due_at = getattr(ticket, "next_due_at", None)
        if due_at is None or ticket.status not in UNRESOLVED_STATUSES:
            return "-"
        text = f"{timezone.localtime(due_at):%Y-%m-%d %H:%M}"
        if due_at < timezone.now():
            return format_html('<strong class="overdue">{} (overdue)</strong>', text)
        return text

    @admin.action(description="Take the selected tickets", permissions=["change"])
    def take_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        for ticket in queryset.order_by("pk"):
            try:
                services.ticket_take(ticket=ticket, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{ticket.reference}: {error.detail}", messages.ERROR)
            else:
                self.message_user(request, f"{ticket.reference}: yours now.", messages.SUCCESS)

    # -- urls ------------------------------------------------------------------------------

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/act/<str:name>/",
                self.admin_site.admin_view(self.act_view),
                name="customercare_ticket_act",
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
        try:
            handle = attachment.file.open("rb")
        except FileNotFoundError:
            raise Http404("The file is missing from storage.") from None
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=attachment.filename,
            content_type=attachment.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "sandbox"
        response["Cache-Control"] = "private, no-store"
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
            if ticket.redemption is not None:
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
        points_name = _points_name(ticket)
        replies = canned.canned_replies_for(merchant=ticket.merchant)
        values = canned.canned_values(ticket=ticket, points_name=points_name)
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
            "points_name": points_name,
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
            "is_open": ticket.status not in (TicketStatus.CLOSED, TicketStatus.MERGED),
            "may_take": may_work and ticket.assignee_id != user.pk,
            "has_merge_targets": "merge" in forms
            and (forms["merge"].errors or forms["merge"].fields["into"].queryset.exists()),
            "redemption": redemption,
            "may_resend": may_work
            and redemption is not None
            and redemption.status == RedemptionStatus.DELIVERED
            and getattr(redemption, "voided_at", None) is None,
            "may_reissue": user.has_perm(SENIOR)
            and redemption is not None
            and redemption.status == RedemptionStatus.DELIVERED
            and getattr(redemption, "voided_at", None) is None,
            "redemption_url": _link(
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

    # -- actions from the page ---------------------------------------------------------------

    def act_view(self, request: HttpRequest, pk: int, name: str) -> HttpResponse:
        """One change from the ticket page, by POST; its service decides."""
        if name not in ACTIONS:
            raise Http404
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        ticket = self._ticket(pk)
        # Every refusal re-renders the ticket page: acting needs the right to see it too.
        if not self.has_view_or_change_permission(request, ticket) or not request.user.has_perm(
            ACTIONS[name]
        ):
            raise PermissionDenied
        return getattr(self, f"_act_{name}")(request, ticket)

    def _back(self, ticket: Ticket) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:customercare_ticket_change", args=[ticket.pk]))

    def _refused(
        self, request: HttpRequest, ticket: Ticket, name: str, form: Form, error: DomainError
    ) -> HttpResponse:
        form.add_error(error.field if error.field in form.fields else None, error.detail)
        return self._page(request, ticket, {name: form})

    def _done(self, request: HttpRequest, ticket: Ticket, text: str) -> HttpResponse:
        self.message_user(request, text, messages.SUCCESS)
        return self._back(ticket)

    def _act_reply(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        replies = canned.canned_replies_for(merchant=ticket.merchant)
        if "insert" in request.POST:
            return self._insert_canned(request, ticket, replies)
        form = ReplyForm(request.POST, request.FILES, prefix="reply", replies=replies)
        if not form.is_valid():
            return self._page(request, ticket, {"reply": form})
        data = form.cleaned_data
        try:
            services.ticket_reply(
                ticket=ticket,
                body=data["body"],
                internal=False,
                then=data["then"] or None,
                attachments=data["attachments"],
                actor=request.user,
            )
        except DomainError as error:
            return self._refused(request, ticket, "reply", form, error)
        return self._done(request, ticket, "Reply sent to the member.")

    def _insert_canned(self, request: HttpRequest, ticket: Ticket, replies: list) -> HttpResponse:
        """Without script: the chosen canned reply, filled, added to the reply text."""
        chosen = {str(reply.pk): reply for reply in replies}.get(request.POST.get("reply-canned"))
        body = request.POST.get("reply-body", "")
        if chosen is not None:
            text = canned.canned_text(
                chosen,
                language=member_language(ticket.member),
                values=canned.canned_values(ticket=ticket, points_name=_points_name(ticket)),
            )
            body = f"{body.rstrip()}\n\n{text}" if body.strip() else text
        form = ReplyForm(
            prefix="reply",
            replies=replies,
            initial={"body": body, "then": request.POST.get("reply-then", "")},
        )
        return self._page(request, ticket, {"reply": form})

    def _act_note(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        form = NoteForm(request.POST, request.FILES, prefix="note")
        if not form.is_valid():
            return self._page(request, ticket, {"note": form})
        try:
            services.ticket_reply(
                ticket=ticket,
                body=form.cleaned_data["body"],
                internal=True,
                attachments=form.cleaned_data["attachments"],
                actor=request.user,
            )
        except DomainError as error:
            return self._refused(request, ticket, "note", form, error)
        return self._done(request, ticket, "Internal note added.")

    def _act_status(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        form = StatusForm(request.POST, prefix="status", ticket=ticket)
        if not form.is_valid():
            return self._page(request, ticket, {"status": form})
        try:
            moved = services.ticket_move(
                ticket=ticket,
                to=form.cleaned_data["to"],
                note=form.cleaned_data["note"],
                actor=request.user,
            )
        except DomainError as error:
            return self._refused(request, ticket, "status", form, error)
        return self._done(request, ticket, f"The ticket is {moved.get_status_display().lower()}.")

    def _act_priority(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        form = PriorityForm(request.POST, prefix="priority")
        if not form.is_valid():
            return self._page(request, ticket, {"priority": form})
        try:
            changed = services.ticket_set_priority(
                ticket=ticket, priority=form.cleaned_data["priority"], actor=request.user
            )
        except DomainError as error:
            return self._refused(request, ticket, "priority", form, error)
        return self._done(
            request, ticket, f"Priority {changed.get_priority_display().lower()}; due times follow."
        )

    def _act_category(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        form = CategoryForm(request.POST, prefix="category")
        if not form.is_valid():
            return self._page(request, ticket, {"category": form})
        try:
            changed = services.ticket_set_category(
                ticket=ticket, category=form.cleaned_data["category"], actor=request.user
            )
        except DomainError as error:
            return self._refused(request, ticket, "category", form, error)
        return self._done(request, ticket, f"Category: {changed.get_category_display()}.")

    def _act_assign(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        form = AssignForm(request.POST, prefix="assign")
        if not form.is_valid():
            return self._page(request, ticket, {"assign": form})
        assignee = form.cleaned_data["assignee"]
        try:
            services.ticket_assign(ticket=ticket, assignee=assignee, actor=request.user)
        except DomainError as error:
            return self._refused(request, ticket, "assign", form, error)
        who = assignee.get_username() if assignee else "nobody"
        return self._done(request, ticket, f"Assigned to {who}.")

    def _act_take(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        try:
            services.ticket_take(ticket=ticket, actor=request.user)
        except DomainError as error:
            self.message_user(request, error.detail, messages.ERROR)
            return self._back(ticket)
        return self._done(request, ticket, "The ticket is yours.")

    def _act_merge(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        form = MergeForm(request.POST, prefix="merge", ticket=ticket)
        if not form.is_valid():
            return self._page(request, ticket, {"merge": form})
        try:
            into = services.ticket_merge(
                ticket=ticket, into=form.cleaned_data["into"], actor=request.user
            )
        except DomainError as error:
            return self._refused(request, ticket, "merge", form, error)
        self.message_user(
            request, f"{ticket.reference} was merged into {into.reference}.", messages.SUCCESS
        )
        return self._back(into)

    def _act_goodwill(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        form = GoodwillForm(request.POST, prefix="goodwill")
        if not form.is_valid():
            return self._page(request, ticket, {"goodwill": form})
        data = form.cleaned_data
        try:
            adjustment = goodwill.goodwill_request(
                ticket=ticket,
                points=data["points"],
                reason=data["reason"],
                note=data["note"],
                key=data["key"],
                actor=request.user,
            )
        except DomainError as error:
            return self._refused(request, ticket, "goodwill", form, error)
        if adjustment.status == GoodwillStatus.POSTED:
            text = f"Goodwill of {adjustment.points} points posted to the member."
        else:
            text = f"Goodwill of {adjustment.points} points waits for a senior agent's approval."
        return self._done(request, ticket, text)

    def _adjustment(self, ticket: Ticket, form: AdjustmentForm) -> GoodwillAdjustment:
        return get_object_or_404(
            GoodwillAdjustment.objects.select_related("merchant"),
            pk=form.cleaned_data["adjustment"],
            ticket=ticket,
        )

    def _act_goodwill_approve(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        form = AdjustmentForm(request.POST)
        if not form.is_valid():
            return self._page(request, ticket, status=400)
        try:
            adjustment = goodwill.goodwill_approve(
                adjustment=self._adjustment(ticket, form), actor=request.user
            )
        except DomainError as error:
            self.message_user(request, error.detail, messages.ERROR)
            return self._back(ticket)
        return self._done(request, ticket, f"Goodwill of {adjustment.points} points approved.")

    def _act_goodwill_reject(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        form = RejectForm(request.POST, prefix="reject")
        if not form.is_valid():
            return self._page(request, ticket, {"reject": form})
        try:
            adjustment = goodwill.goodwill_reject(
                adjustment=self._adjustment(ticket, form),
                note=form.cleaned_data["note"],
                actor=request.user,
            )
        except DomainError as error:
            return self._refused(request, ticket, "reject", form, error)
        return self._done(request, ticket, f"Goodwill of {adjustment.points} points rejected.")

    def _act_resend(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        redemption = ticket.redemption
        if redemption is None:
            raise Http404
        events = RedemptionEvent.objects.filter(redemption=redemption, field="delivery")
        before = events.count()
        try:
            delivery.delivery_email_send(
                redemption=redemption,
                base_url=settings.PUBLIC_BASE_URL,
                resend=True,
                actor=request.user,
            )
        except DomainError as error:
            self.message_user(request, error.detail, messages.ERROR)
            return self._back(ticket)
        if events.count() == before:
            self.message_user(
                request,
                "Nothing was sent: this reward is not delivered by email (it ships, or there "
                "is no address).",
                messages.WARNING,
            )
            return self._back(ticket)
        return self._done(request, ticket, "The delivery email went to the member again.")

    def _act_reissue(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        redemption = ticket.redemption
        if redemption is None:
            raise Http404
        form = ReasonForm(request.POST, prefix="reissue")
        if not form.is_valid():
            return self._page(request, ticket, {"reissue": form})
        try:
            new = redemption_reissue(
                redemption=redemption, reason=form.cleaned_data["reason"], actor=request.user
            )
        except DomainError as error:
            return self._refused(request, ticket, "reissue", form, error)
        return self._done(
            request,
            ticket,
            f"Redemption #{redemption.pk} voided and ordered again as #{new.pk}.",
        )
