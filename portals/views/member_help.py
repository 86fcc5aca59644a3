"""The member portal's Help section, ``/m/<merchant slug>/help/``: the member's tickets,
the published FAQ and the program terms; a form to ask for help; each ticket's public
thread with the member's reply and, once resolved, their rating.

Everything is read through ``request.merchant`` and ``request.member``
(``portals.member_session.member_page``): a ticket reference that is not this member's,
of this merchant, is a 404 like one that does not exist. The thread shows public messages
only (``customercare.selectors``); internal notes are never loaded. The writes are
customer care's services, with the member as the actor and ``TicketChannel.PORTAL``.

Opening a ticket is limited per member (``settings.MEMBER_TICKET_RATE``) and the form
carries a one-time key: the same form sent twice (a double click, a resent POST) opens
one ticket, and the second answer leads to it. Replies and ratings of one ticket are
limited like the care page's (``settings.CARE_TICKET_POST_RATE``). Past a limit the page
comes back with status 429, Retry-After and the member's text still in the form.
"""

import contextlib
import secrets
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max, Q
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.actors import Actor
from core.exceptions import InvalidTransition
from customercare import help as help_pages
from customercare import services
from customercare.attachments import MAX_BYTES, MAX_FILES
from customercare.attachments import attachment_download as care_attachment_download
from customercare.attachments import check_all as check_attachments
from customercare.exceptions import (
    AttachmentRefused,
    CSATAlreadyGiven,
    InvalidTicketInput,
    TicketClosed,
    TicketNotFound,
)
from customercare.models import (
    MessageKind,
    Ticket,
    TicketCategory,
    TicketChannel,
    TicketStatus,
)
from customercare.selectors import (
    csat_open,
    current_csat,
    member_thread,
    member_tickets,
    public_attachment,
    ticket_get,
)
from customercare.views import STATUS_FOR_MEMBER
from fulfillment.link_throttle import link_post_count
from fulfillment.models import Redemption
from portals.member_help_forms import (
    CATEGORY_WORDS,
    RatingForm,
    ReplyForm,
    TicketForm,
    redemption_words,
)
from portals.member_session import local_date, member_page, member_render

# The member's tickets listed on the Help page (the newest; older ones stay reachable by
# the links in their emails).
TICKETS_SHOWN = 50
# The redemptions offered when a ticket is about a reward.
REDEMPTIONS_OFFERED = 50
# How long a sent form's key is remembered, so a replay leads to the ticket it opened.
FORM_KEY_SECONDS = 24 * 3600
_FORM_KEY = "member-ticket-form:{merchant}:{member}:{nonce}"
# What a form key holds while its ticket is being opened.
_OPENING = "-"

# The badge beside a status: what the member should notice.
STATUS_TONES = {
    TicketStatus.NEW: "info",
    TicketStatus.OPEN: "info",
    TicketStatus.PENDING_CUSTOMER: "warn",
    TicketStatus.PENDING_FULFILLMENT: "info",
    TicketStatus.RESOLVED: "ok",
}
# Which form field a service's refusal belongs to.
SERVICE_FIELDS = {
    "category": "category",
    "subject": "subject",
    "message": "message",
    "order": "order",
    "redemption": "redemption",
}


def _status_words(ticket: Ticket) -> dict:
    status = TicketStatus(ticket.status)
    return {"label": STATUS_FOR_MEMBER[status], "tone": STATUS_TONES.get(status, "")}


def _category_words(category: str) -> str:
    return next((str(words) for value, words in CATEGORY_WORDS if value == category), "")


def _files_note() -> str:
    return _(
        "PDF, PNG, JPEG, GIF or plain text; at most %(count)s files of %(megabytes)s MB each."
    ) % {"count": MAX_FILES, "megabytes": MAX_BYTES // (1024 * 1024)}


def _files_refused() -> str:
    return _(
        "A file could not be attached. Send PDF, PNG, JPEG, GIF or plain-text files, "
        "at most %(count)s files of %(megabytes)s MB each."
    ) % {"count": MAX_FILES, "megabytes": MAX_BYTES // (1024 * 1024)}


def _wait_words() -> str:
    return _(
        "For your security, this page takes only a few messages in a short while. "
        "Wait a few minutes, then try again."
    )


# -- the Help page -----------------------------------------------------------------------------


@require_GET
@member_page
def help_hub(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    """The member's tickets, the way to ask for help, the FAQ and the terms."""
    merchant, member = request.merchant, request.member
    # A merged ticket's thread lives on in the ticket it went into (the same member's),
    # which the list shows: the merged one is left out.
    rows = (
        Ticket.objects.filter(merchant=merchant, member=member)
        .exclude(status=TicketStatus.MERGED)
        .annotate(
            last_public=Coalesce(
                Max("messages__created_at", filter=Q(messages__kind=MessageKind.PUBLIC)),
                "created_at",
            )
        )
        .order_by("-created_at", "-id")[:TICKETS_SHOWN]
    )
    tickets = [
        {
            "reference": ticket.reference,
            "subject": ticket.subject,
            "status": _status_words(ticket),
            "updated_on": local_date(request, ticket.last_public),
        }
        for ticket in rows
    ]
    return member_render(
        request,
        "help.html",
        "help",
        tickets=tickets,
        faq=help_pages.faq_published(merchant=merchant),
        terms=help_pages.terms_current(merchant=merchant),
    )


# -- asking for help -------------------------------------------------------------------------


def _member_redemptions(request: HttpRequest, *, also: str = "") -> list[Redemption]:
    """The member's latest redemptions to choose from, and ``also`` (a public id: the one
    a reward's page asks about, or the one sent) when it is theirs and older."""
    own = Redemption.objects.filter(merchant=request.merchant, member=request.member)
    latest = list(own.select_related("reward").order_by("-created_at", "-id")[:REDEMPTIONS_OFFERED])
    if also and all(str(redemption.public_id) != also for redemption in latest):
        with contextlib.suppress(ValueError):  # not an id: nothing more to offer
            latest += list(own.select_related("reward").filter(public_id=uuid.UUID(also)))
    return latest


def _form_key_name(request: HttpRequest, nonce: str) -> str:
    return _FORM_KEY.format(merchant=request.merchant.pk, member=request.member.pk, nonce=nonce)


def _ticket_url(request: HttpRequest, reference: str) -> str:
    return reverse(
        "member:help_ticket",
        kwargs={"merchant_slug": request.merchant.slug, "reference": reference},
    )


def _new_page(
    request: HttpRequest,
    form: TicketForm,
    *,
    error: str = "",
    attachment_error: str = "",
    status: int = 200,
) -> HttpResponse:
    return member_render(
        request,
        "help_new.html",
        "help",
        status=status,
        form=form,
        error=error,
        attachment_error=attachment_error,
        files_note=_files_note(),
        max_files=MAX_FILES,
        has_redemptions=bool(form.redemptions),
    )


def _open(request: HttpRequest, form: TicketForm, key: str) -> HttpResponse:
    """Open the ticket the valid ``form`` asks for, under the form key ``key`` (held)."""
    data = form.cleaned_data
    try:
        ticket = services.ticket_open(
            merchant=request.merchant,
            member=request.member,
            data=services.TicketInput(
                category=data["category"],
                subject=data["subject"],
                body=data["message"],
                order_external_id=data["order"]
                if data["category"] == TicketCategory.MISSING_POINTS
                else "",
                redemption=data.get("redemption_obj"),
            ),
            channel=TicketChannel.PORTAL,
            attachments=request.FILES.getlist("attachments"),
            actor=Actor.member(),
        )
    except AttachmentRefused:
        cache.delete(key)
        return _new_page(request, form, attachment_error=_files_refused(), status=400)
    except InvalidTicketInput as error:
        cache.delete(key)
        field = SERVICE_FIELDS.get(getattr(error, "field", "") or "")
        form.add_error(field, _("Check this and try again."))
        return _new_page(request, form, status=400)
    cache.set(key, ticket.reference, timeout=FORM_KEY_SECONDS)
    return HttpResponseRedirect(_ticket_url(request, ticket.reference) + "?sent=1", status=303)


@require_http_methods(["GET", "HEAD", "POST"])
@member_page
def help_new(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    """GET: the form. POST: open the ticket, then its page."""
    if request.method != "POST":
        # From a reward's page: "?reward=<its public id>" picks it, about a reward not
        # received unless the page asks another subject.
        reward = request.GET.get("reward", "")
        redemptions = _member_redemptions(request, also=reward)
        initial = {"form_key": secrets.token_urlsafe(24)}
        if any(str(redemption.public_id) == reward for redemption in redemptions):
            initial.update(redemption=reward, category=TicketCategory.REWARD_NOT_RECEIVED)
        asked = request.GET.get("category")
        if asked in TicketCategory.values:
            initial["category"] = asked
        return _new_page(request, TicketForm(initial=initial, redemptions=redemptions))
    redemptions = _member_redemptions(request, also=request.POST.get("redemption", ""))
    form = TicketForm(request.POST, redemptions=redemptions)
    valid = form.is_valid()
    try:
        check_attachments(request.FILES.getlist("attachments"))
    except AttachmentRefused:
        return _new_page(request, form, attachment_error=_files_refused(), status=400)
    if not valid:
        return _new_page(request, form, status=400)
    key = _form_key_name(request, form.cleaned_data["form_key"])
    # add() writes only where nothing is: of two sends of one form, one opens the ticket.
    if not cache.add(key, _OPENING, timeout=FORM_KEY_SECONDS):
        reference = cache.get(key)
        if reference and reference != _OPENING:
            return HttpResponseRedirect(_ticket_url(request, reference), status=303)
        url = reverse("member:help", kwargs={"merchant_slug": merchant_slug})
        return HttpResponseRedirect(url, status=303)
    retry_after = link_post_count(
        scope="member-ticket-open",
        token=f"{request.merchant.pk}:{request.member.pk}",
        rate=settings.MEMBER_TICKET_RATE,
    )
    if retry_after is not None:
        cache.delete(key)
        response = _new_page(
            request,
            form,
            error=_(
                "You have sent several requests in a short while. Your message is kept below: "
                "wait a little, then send it again."
            ),
            status=429,
        )
        response["Retry-After"] = str(retry_after)
        return response
    return _open(request, form, key)


# -- a ticket ----------------------------------------------------------------------------------


def _members_ticket(request: HttpRequest, reference: str) -> Ticket:
    """This member's ticket of this merchant by its reference, else 404."""
    try:
        ticket = ticket_get(merchant=request.merchant, reference=reference)
    except TicketNotFound:
        raise Http404("No such ticket.") from None
    if ticket.member_id != request.member.pk:
        raise Http404("No such ticket.")
    return ticket


def _shown(request: HttpRequest, reference: str) -> Ticket | HttpResponse:
    """The ticket with what its page shows, or, for one merged away, the redirect to the
    ticket its thread went into."""
    ticket = _members_ticket(request, reference)
    if ticket.status == TicketStatus.MERGED:
        destination = services.ticket_merge_destination(ticket=ticket)
        if (
            destination.pk == ticket.pk
            or destination.merchant_id != request.merchant.pk
            or destination.member_id != request.member.pk
        ):
            raise Http404("No such ticket.")
        return HttpResponseRedirect(_ticket_url(request, destination.reference))
    return member_tickets(Ticket.objects.filter(pk=ticket.pk)).get()


def _ticket_page(
    request: HttpRequest,
    ticket: Ticket,
    *,
    reply_form: ReplyForm | None = None,
    rating_form: RatingForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    messages = member_thread(ticket)
    redemption = ticket.redemption
    return member_render(
        request,
        "help_ticket.html",
        "help",
        status=status,
        ticket=ticket,
        status_words=_status_words(ticket),
        category=_category_words(ticket.category),
        opened_on=local_date(request, ticket.created_at),
        reward=redemption_words(redemption) if redemption is not None else "",
        messages=messages,
        zone=request.merchant.timezone,
        can_reply=services.ticket_member_can_reply(ticket=ticket),
        reply_form=reply_form or ReplyForm(),
        csat_open=csat_open(ticket),
        csat=current_csat(ticket),
        rating_form=rating_form or RatingForm(),
        sent=request.method == "GET" and request.GET.get("sent") == "1",
        replied=request.method == "GET" and request.GET.get("replied") == "1",
        rated=request.method == "GET" and request.GET.get("rated") == "1",
        error=error,
        files_note=_files_note(),
        max_files=MAX_FILES,
    )


def _post_refused(
    request: HttpRequest,
    ticket: Ticket,
    *,
    reply_form: ReplyForm | None = None,
    rating_form: RatingForm | None = None,
) -> HttpResponse | None:
    """Counts a POST on this ticket; once one too many, the page again with what the
    member wrote and a request to wait."""
    retry_after = link_post_count(
        scope="member-ticket",
        token=f"{request.merchant.pk}:{ticket.reference}",
        rate=settings.CARE_TICKET_POST_RATE,
    )
    if retry_after is None:
        return None
    response = _ticket_page(
        request,
        ticket,
        reply_form=reply_form,
        rating_form=rating_form,
        error=_wait_words(),
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@member_page
def help_ticket(request: HttpRequest, merchant_slug: str, reference: str) -> HttpResponse:
    """GET: the ticket's public thread, the reply form and, once resolved, the rating
    form. POST: the member's reply (then back to the page)."""
    shown = _shown(request, reference)
    if isinstance(shown, HttpResponse):
        return shown
    ticket = shown
    if request.method != "POST":
        return _ticket_page(request, ticket)
    form = ReplyForm(request.POST)
    if refused := _post_refused(request, ticket, reply_form=form):
        return refused
    if not form.is_valid():
        return _ticket_page(request, ticket, reply_form=form, status=400)
    try:
        services.ticket_member_message(
            ticket=ticket,
            body=form.cleaned_data["message"],
            attachments=request.FILES.getlist("attachments"),
            actor=Actor.member(),
        )
    except TicketClosed:
        message = _("This request is closed. To ask something else, send a new request.")
        return _ticket_page(request, ticket, reply_form=form, error=message, status=409)
    except AttachmentRefused:
        return _ticket_page(request, ticket, reply_form=form, error=_files_refused(), status=400)
    except InvalidTicketInput:
        form.add_error("message", _("Check your message and try again."))
        return _ticket_page(request, ticket, reply_form=form, status=400)
    return HttpResponseRedirect(_ticket_url(request, ticket.reference) + "?replied=1", status=303)


@require_POST
@member_page
def help_ticket_rate(request: HttpRequest, merchant_slug: str, reference: str) -> HttpResponse:
    """The member's rating of the latest resolution (1 to 5 and a comment), once."""
    shown = _shown(request, reference)
    if isinstance(shown, HttpResponse):
        return shown
    ticket = shown
    form = RatingForm(request.POST)
    if refused := _post_refused(request, ticket, rating_form=form):
        return refused
    if not form.is_valid():
        return _ticket_page(request, ticket, rating_form=form, status=400)
    try:
        services.csat_record(
            ticket=ticket,
            score=form.cleaned_data["score"],
            comment=form.cleaned_data["comment"],
            via="portal",
        )
    except CSATAlreadyGiven:
        ticket = member_tickets(Ticket.objects.filter(pk=ticket.pk)).get()
        message = _("You have already rated this answer. Thank you!")
        return _ticket_page(request, ticket, error=message, status=409)
    except (InvalidTransition, InvalidTicketInput):
        message = _("This request cannot be rated now.")
        return _ticket_page(request, ticket, rating_form=form, error=message, status=409)
    return HttpResponseRedirect(_ticket_url(request, ticket.reference) + "?rated=1", status=303)


@require_GET
@member_page
def help_ticket_file(
    request: HttpRequest, merchant_slug: str, reference: str, attachment_id: str
) -> HttpResponse:
    """A file of the ticket's public thread, as a download."""
    shown = _shown(request, reference)
    if isinstance(shown, HttpResponse):
        return shown
    attachment = public_attachment(ticket=shown, attachment_id=attachment_id)
    if attachment is None:
        raise Http404("No such file.")
    response = care_attachment_download(attachment)
    if response is None:
        raise Http404("No such file.")
    return response


# -- the terms ---------------------------------------------------------------------------------


@require_GET
@member_page
def help_terms(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    """The terms in force, or with ``?version=`` an earlier version; a version never in
    force (unpublished, future or unknown) is a 404."""
    history = help_pages.terms_history(merchant=request.merchant)
    shown = history[0] if history else None
    asked = request.GET.get("version")
    if asked is not None:
        if not (asked.isascii() and asked.isdigit()) or len(asked) > 10:
            raise Http404("No such version.")
        shown = next((terms for terms in history if terms.version == int(asked)), None)
        if shown is None:
            raise Http404("No such version.")
    return member_render(
        request,
        "help_terms.html",
        "help",
        terms=shown,
        in_force=bool(history) and shown is history[0],
        history=[
            {"version": t.version, "effective_on": t.effective_on, "current": i == 0}
            for i, t in enumerate(history)
        ],
    )
