"""The member page's Tickets tab and its "Open a ticket" action (``loyalty.member_tabs``):
the member's tickets with their state, and a page where an agent opens one for them (a
call, a chat) through the same service as the API. Goodwill is given on a ticket, with
its approval: the tab links to the goodwill form of their open ticket."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from core.actors import Actor
from core.exceptions import DomainError
from customercare import services
from customercare.admin.forms import OpenTicketForm
from customercare.admin.ticket_actions import WORK
from customercare.admin.ticket_words import SLA_TONES, STATUS_TONES, STATUS_WORDS
from customercare.models import UNRESOLVED_STATUSES, Ticket, TicketChannel
from loyalty.member_tabs import MemberAction, MemberTab
from loyalty.models import Member, MemberStatus

ROWS = 50
VIEW = ("customercare.view_ticket", WORK)


def tickets_tab(request: HttpRequest, member: Member) -> dict[str, Any]:
    tickets = list(
        Ticket.objects.filter(merchant=member.merchant, member=member)
        .select_related("assignee")
        .order_by("-created_at", "-id")[:ROWS]
    )
    open_ticket = next((t for t in tickets if t.status in UNRESOLVED_STATUSES), None)
    may_work = request.user.has_perm(WORK)
    return {
        "rows": [
            {
                "ticket": ticket,
                "url": reverse("admin:customercare_ticket_change", args=[ticket.pk]),
                "status": (
                    STATUS_WORDS.get(ticket.status, ticket.get_status_display()),
                    STATUS_TONES.get(ticket.status, ""),
                ),
                "sla": (ticket.get_sla_state_display(), SLA_TONES.get(ticket.sla_state, "")),
            }
            for ticket in tickets
        ],
        "limit": ROWS,
        "list_url": reverse("admin:customercare_ticket_changelist")
        + f"?member__id__exact={member.pk}",
        "goodwill_url": reverse("admin:customercare_ticket_change", args=[open_ticket.pk])
        + "#goodwill"
        if open_ticket is not None and may_work
        else "",
        "open_url": reverse("admin:customercare_ticket_open", args=[member.pk])
        if may_work and _may_open(member)
        else "",
    }


def _may_open(member: Member) -> bool:
    return member.status != MemberStatus.ANONYMISED


def member_tabs() -> list[MemberTab]:
    return [
        MemberTab(
            "tickets",
            "Tickets",
            "admin/customercare/member/tickets.html",
            tickets_tab,
            permissions=VIEW,
            order=40,
        )
    ]


def member_actions() -> list[MemberAction]:
    return [
        MemberAction(
            "Open a ticket…",
            lambda member: reverse("admin:customercare_ticket_open", args=[member.pk]),
            WORK,
            _may_open,
        )
    ]


def open_ticket_view(model_admin, request: HttpRequest, member_pk: int) -> HttpResponse:
    """The form an agent opens a ticket with; the ticket's page once it is open."""
    if not request.user.has_perm(WORK):
        raise PermissionDenied
    member = get_object_or_404(Member.objects.select_related("merchant"), pk=member_pk)
    if not _may_open(member):
        raise PermissionDenied
    form = OpenTicketForm(request.POST or None, member=member)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = services.ticket_open(
                merchant=member.merchant,
                member=member,
                data=services.TicketInput(
                    category=data["category"],
                    subject=data["subject"],
                    body=data["note"],
                    order_external_id=data["order"],
                    redemption=data["redemption"],
                    priority=data["priority"],
                ),
                channel=TicketChannel.STAFF,
                actor=Actor.staff(request.user),
            )
        except DomainError as error:
            field = {"message": "note"}.get(error.field or "", error.field)
            form.add_error(field if field in form.fields else None, error.detail)
        else:
            model_admin.message_user(
                request, f"Ticket {ticket.reference} opened.", messages.SUCCESS
            )
            return HttpResponseRedirect(
                reverse("admin:customercare_ticket_change", args=[ticket.pk])
            )
    return TemplateResponse(
        request,
        "admin/customercare/ticket/open.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": f"Open a ticket for {member.full_name or member.external_id}",
            "member": member,
            "form": form,
        },
        status=400 if form.errors else 200,
    )
