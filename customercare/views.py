"""The member's pages: the ticket page, ``/care/t/<token>/``, and the merchant's help
pages, ``/care/help/<merchant slug>/``.

The ticket page has no login: the signed token in the path is the credential (see
``customercare.links``). It shows the public thread only (internal notes are never
loaded), takes the member's reply and, once the ticket is resolved, their rating. A GET
changes nothing, so a mail scanner following the link does no harm. Like the reward claim
page, every response it gives, refusals included, is kept out of caches and search
engines and sends no referrer to other sites, which would carry the token away. The
POSTs of one link are limited (``settings.CARE_TICKET_POST_RATE``, see
``fulfillment.link_throttle``): past the limit the page comes back with status 429,
Retry-After and the member's text still in the form, and nothing is written.

The help pages are public: the published FAQ and the terms in force (with the earlier
versions), in the language ``?lang=`` picks, else the browser's.
"""

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from core.actors import Actor
from core.exceptions import InvalidTransition
from customercare import help as help_pages
from customercare import services
from customercare.attachments import MAX_BYTES, MAX_FILES, attachment_download
from customercare.exceptions import (
    AttachmentRefused,
    CSATAlreadyGiven,
    InvalidTicketInput,
    TicketClosed,
    TicketNotFound,
)
from customercare.links import ticket_from_token
from customercare.models import MessageAuthor, Ticket, TicketStatus
from customercare.selectors import (
    csat_open,
    current_csat,
    member_thread,
    member_tickets,
    public_attachment,
)
from fulfillment.claim_page import private_view
from fulfillment.link_throttle import link_post_count
from fulfillment.vouchers import member_language
from merchants.models import Merchant

STATUS_FOR_MEMBER = {
    TicketStatus.NEW: _("Received"),
    TicketStatus.OPEN: _("In progress"),
    TicketStatus.PENDING_CUSTOMER: _("Waiting for your reply"),
    TicketStatus.PENDING_FULFILLMENT: _("Waiting for the reward's delivery"),
    TicketStatus.RESOLVED: _("Resolved"),
    TicketStatus.CLOSED: _("Closed"),
    TicketStatus.MERGED: _("Closed"),
}


def _page_context(**context: object) -> dict:
    return {
        **context,
        "language": translation.get_language(),
        "text_direction": "rtl" if translation.get_language_bidi() else "ltr",
    }


# -- the ticket page --------------------------------------------------------------------------


class ReplyForm(forms.Form):
    message = forms.CharField(max_length=services.BODY_MAX, widget=forms.Textarea)


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(
        choices=[(n, str(n)) for n in range(1, 6)], coerce=int, widget=forms.RadioSelect
    )
    comment = forms.CharField(max_length=2000, required=False, widget=forms.Textarea)


def _shown_ticket(token: str) -> Ticket:
    """The ticket the link names, or the one it was merged into (where its thread went),
    with what the page shows; ``TicketNotFound`` for a bad link."""
    ticket = services.ticket_merge_destination(ticket=ticket_from_token(token))
    return member_tickets(Ticket.objects.select_related("merchant")).get(pk=ticket.pk)


def _invalid(request: HttpRequest) -> HttpResponse:
    # No member to take a locale from: the browser's, among the supported ones.
    with translation.override(translation.get_language_from_request(request)):
        return render(request, "customercare/member/invalid.html", _page_context(), status=404)


def _render_ticket(
    request: HttpRequest,
    ticket: Ticket,
    token: str,
    *,
    reply_form: ReplyForm | None = None,
    rating_form: RatingForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    author_names = {
        MessageAuthor.MEMBER: _("You"),
        MessageAuthor.STAFF: _("Customer care"),
        MessageAuthor.SYSTEM: _("Customer care"),
    }
    messages = [
        {**message, "author": author_names.get(message["author_type"], _("Customer care"))}
        for message in member_thread(ticket)
    ]
    context = _page_context(
        ticket=ticket,
        token=token,
        merchant_name=ticket.merchant.name,
        status_label=STATUS_FOR_MEMBER[TicketStatus(ticket.status)],
        messages=messages,
        can_reply=services.ticket_member_can_reply(ticket=ticket),
        reply_form=reply_form or ReplyForm(),
        csat_open=csat_open(ticket),
        csat=current_csat(ticket),
        rating_form=rating_form or RatingForm(),
        scores=range(1, 6),
        sent=request.method == "GET" and request.GET.get("sent") == "1",
        error=error,
        max_files=MAX_FILES,
        max_megabytes=MAX_BYTES // (1024 * 1024),
    )
    return render(request, "customercare/member/ticket.html", context, status=status)


def _refusal(error: Exception) -> tuple[str, int]:
    """What the page tells the member when the service refuses their message."""
    if isinstance(error, TicketClosed):
        return _("This request is closed. To ask something else, contact customer care again."), 409
    if isinstance(error, AttachmentRefused):
        return _(
            "A file could not be attached. Send PDF, PNG, JPEG, GIF or plain-text files, "
            "at most %(count)s files of %(megabytes)s MB each."
        ) % {"count": MAX_FILES, "megabytes": MAX_BYTES // (1024 * 1024)}, 400
    return _("Your message could not be sent. Check it and try again."), 400


def _post_refused(
    request: HttpRequest,
    ticket: Ticket,
    token: str,
    *,
    reply_form: ReplyForm | None = None,
    rating_form: RatingForm | None = None,
) -> HttpResponse | None:
    """Counts a POST through this link; once it is one too many, the page again with what
    the member wrote and a request to wait."""
    retry_after = link_post_count(
        scope="care-ticket", token=token, rate=settings.CARE_TICKET_POST_RATE
    )
    if retry_after is None:
        return None
    message = _(
        "For your security, this page takes only a few messages in a short while. "
        "Wait a few minutes, then try again."
    )
    response = _render_ticket(
        request,
        ticket,
        token,
        reply_form=reply_form,
        rating_form=rating_form,
        error=message,
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


@private_view("GET", "POST")
def ticket_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the ticket's public thread, a reply form and, once resolved, the rating
    form. POST: the member's reply (then back to the page)."""
    try:
        ticket = _shown_ticket(token)
    except TicketNotFound:
        return _invalid(request)
    with translation.override(member_language(ticket.member)):
        if request.method == "GET":
            return _render_ticket(request, ticket, token)
        form = ReplyForm(request.POST)
        if refused := _post_refused(request, ticket, token, reply_form=form):
            return refused
        if not form.is_valid():
            return _render_ticket(request, ticket, token, reply_form=form, status=400)
        try:
            services.ticket_member_message(
                ticket=ticket,
                body=form.cleaned_data["message"],
                attachments=request.FILES.getlist("attachments"),
                actor=Actor.member(),
            )
        except (TicketClosed, AttachmentRefused, InvalidTicketInput) as error:
            message, status = _refusal(error)
            ticket = _shown_ticket(token)
            return _render_ticket(
                request, ticket, token, reply_form=form, error=message, status=status
            )
    url = reverse("care:ticket", kwargs={"token": token}) + "?sent=1"
    return HttpResponseRedirect(url, status=303)


@private_view("POST")
def ticket_rate(request: HttpRequest, token: str) -> HttpResponse:
    """The member's rating of the latest resolution (1 to 5 and a comment), once."""
    try:
        ticket = _shown_ticket(token)
    except TicketNotFound:
        return _invalid(request)
    with translation.override(member_language(ticket.member)):
        form = RatingForm(request.POST)
        if refused := _post_refused(request, ticket, token, rating_form=form):
            return refused
        if not form.is_valid():
            return _render_ticket(request, ticket, token, rating_form=form, status=400)
        try:
            rating = services.csat_record(
                ticket=ticket,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
                via="link",
            )
        except (CSATAlreadyGiven, InvalidTransition, InvalidTicketInput) as error:
            message = (
                _("You have already rated this answer. Thank you!")
                if isinstance(error, CSATAlreadyGiven)
                else _("This request cannot be rated now.")
            )
            ticket = _shown_ticket(token)
            status = 400 if isinstance(error, InvalidTicketInput) else 409
            return _render_ticket(request, ticket, token, error=message, status=status)
        context = _page_context(
            ticket=ticket, token=token, merchant_name=ticket.merchant.name, rating=rating
        )
        return render(request, "customercare/member/rated.html", context)


@private_view("GET")
def ticket_file(request: HttpRequest, token: str, attachment_id: str) -> HttpResponse:
    """A file of the ticket's public thread, as a download."""
    try:
        ticket = _shown_ticket(token)
    except TicketNotFound:
        return _invalid(request)
    attachment = public_attachment(ticket=ticket, attachment_id=attachment_id)
    if attachment is None:
        return _invalid(request)
    response = attachment_download(attachment)
    return response if response is not None else _invalid(request)


# -- help pages --------------------------------------------------------------------------------


def _help_language(request: HttpRequest) -> str:
    """``?lang=`` when it names one of ``settings.LANGUAGES``, else the browser's."""
    return help_pages.help_language(request.GET.get("lang")) or (
        translation.get_language_from_request(request)
    )


def _help_merchant(slug: str) -> Merchant:
    merchant = help_pages.help_merchant(slug=slug)
    if merchant is None:
        raise Http404("No such program.")
    return merchant


def _help_context(merchant: Merchant, language: str, **context: object) -> dict:
    return _page_context(
        merchant=merchant,
        merchant_name=merchant.name,
        languages=[(code, name) for code, name in settings.LANGUAGES],
        current_language=language,
        **context,
    )


@require_GET
def help_faq(request: HttpRequest, slug: str) -> HttpResponse:
    merchant = _help_merchant(slug)
    language = _help_language(request)
    entries = help_pages.faq_published(merchant=merchant)
    with translation.override(language):
        context = _help_context(
            merchant,
            language,
            entries=[{"question": e.question, "answer": e.answer} for e in entries],
        )
        return render(request, "customercare/member/faq.html", context)


@require_GET
def help_terms(request: HttpRequest, slug: str) -> HttpResponse:
    """The terms in force, or with ``?version=`` an earlier version; a version never in
    force (unpublished, future or unknown) is a 404."""
    merchant = _help_merchant(slug)
    language = _help_language(request)
    history = help_pages.terms_history(merchant=merchant)
    shown = history[0] if history else None
    asked = request.GET.get("version")
    if asked is not None:
        if not (asked.isascii() and asked.isdigit()) or len(asked) > 10:
            raise Http404("No such version.")
        shown = next((terms for terms in history if terms.version == int(asked)), None)
        if shown is None:
            raise Http404("No such version.")
    with translation.override(language):
        context = _help_context(
            merchant,
            language,
            terms=shown,
            body=shown.body if shown is not None else "",
            in_force=bool(history) and shown is history[0],
            version_query=asked if asked is not None else "",
            history=[
                {"version": t.version, "effective_on": t.effective_on, "current": i == 0}
                for i, t in enumerate(history)
            ],
        )
        return render(request, "customercare/member/terms.html", context)
