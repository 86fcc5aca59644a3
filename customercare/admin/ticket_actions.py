"""The changes made from the ticket page: each a POST to ``<pk>/act/<name>/`` that needs
the right to see the ticket and the action's own permission, validates its form and
calls one service; a form error or a refusal comes back on the page and changes nothing.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.urls import reverse

from core.actors import Actor
from core.admin.rights import require_page_action
from core.exceptions import DomainError
from customercare import canned, goodwill, services
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
)
from customercare.admin.member_view import points_name
from customercare.models import (
    GoodwillAdjustment,
    GoodwillStatus,
    Ticket,
)
from fulfillment.models import RedemptionEvent
from fulfillment.services import delivery
from fulfillment.services.reissue import redemption_reissue
from fulfillment.vouchers import member_language

WORK = "customercare.change_ticket"
GOODWILL_REQUEST = "customercare.add_goodwilladjustment"
SENIOR = goodwill.APPROVE_PERMISSION
REISSUE = "customercare.reissue_reward"


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
    "reissue": REISSUE,
}


class TicketActionsMixin:
    # -- actions from the page ---------------------------------------------------------------

    def act_view(self, request: HttpRequest, pk: int, name: str) -> HttpResponse:
        """One change from the ticket page, by POST; its service decides."""
        if name not in ACTIONS:
            raise Http404
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        require_page_action(ACTIONS, request, name)
        ticket = self._ticket(pk)
        # Every refusal re-renders the ticket page: acting needs the right to see it too.
        if not self.has_view_or_change_permission(request, ticket):
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
                actor=Actor.staff(request.user),
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
                values=canned.canned_values(ticket=ticket, points_name=points_name(ticket)),
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
                actor=Actor.staff(request.user),
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
                actor=Actor.staff(request.user),
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
                ticket=ticket,
                priority=form.cleaned_data["priority"],
                actor=Actor.staff(request.user),
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
                ticket=ticket,
                category=form.cleaned_data["category"],
                actor=Actor.staff(request.user),
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
            services.ticket_assign(
                ticket=ticket, assignee=assignee, actor=Actor.staff(request.user)
            )
        except DomainError as error:
            return self._refused(request, ticket, "assign", form, error)
        who = assignee.get_username() if assignee else "nobody"
        return self._done(request, ticket, f"Assigned to {who}.")

    def _act_take(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        try:
            services.ticket_take(ticket=ticket, actor=Actor.staff(request.user))
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
                ticket=ticket, into=form.cleaned_data["into"], actor=Actor.staff(request.user)
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
                actor=Actor.staff(request.user),
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
                adjustment=self._adjustment(ticket, form), actor=Actor.staff(request.user)
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
                actor=Actor.staff(request.user),
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
                actor=Actor.staff(request.user),
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
                redemption=redemption,
                reason=form.cleaned_data["reason"],
                actor=Actor.staff(request.user),
            )
        except DomainError as error:
            return self._refused(request, ticket, "reissue", form, error)
        return self._done(
            request,
            ticket,
            f"Redemption #{redemption.pk} voided and ordered again as #{new.pk}.",
        )
