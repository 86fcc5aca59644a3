"""The member's ticket page link: a signed token naming the ticket's public reference.
It is the only credential of the page (the member has no login here), so it names one
ticket and nothing else, and a changed token fails its signature."""

import datetime

from django.conf import settings
from django.core import signing
from django.urls import reverse

from customercare.exceptions import TicketNotFound
from customercare.models import Ticket

TICKET_LINK_SALT = "customercare.ticket-link"
TICKET_LINK_DAYS = 120


def ticket_token(ticket: Ticket) -> str:
    return signing.TimestampSigner(salt=TICKET_LINK_SALT).sign(ticket.reference)


def ticket_from_token(token: str) -> Ticket:
    """The ticket a link names; ``TicketNotFound`` when the token was changed, is older
    than ``TICKET_LINK_DAYS`` or names nothing."""
    try:
        reference = signing.TimestampSigner(salt=TICKET_LINK_SALT).unsign(
            token, max_age=datetime.timedelta(days=TICKET_LINK_DAYS)
        )
    except signing.BadSignature as error:  # SignatureExpired is one
        raise TicketNotFound() from error
    ticket = (
        Ticket.objects.select_related("merchant", "member", "merged_into")
        .filter(reference=reference)
        .first()
    )
    if ticket is None:
        raise TicketNotFound()
    return ticket


def ticket_page_url(ticket: Ticket) -> str:
    path = reverse("care:ticket", kwargs={"token": ticket_token(ticket)})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path
