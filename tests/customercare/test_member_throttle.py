"""One ticket link takes only so many POSTs (replies, ratings) in a window
(``settings.CARE_TICKET_POST_RATE``); the one past the limit gets the page back, in the
member's language, with status 429, Retry-After and their text still in the form, and
writes and sends nothing."""

import pytest
from django.conf import settings
from django.core import mail

from core.actors import SYSTEM
from customercare import services
from customercare.links import ticket_token
from customercare.models import CSATResponse, TicketMessage, TicketStatus
from tests.customercare.factories import care_merchant, member_of, ticket_open
from tests.customercare.test_member_pages import assert_private

pytestmark = pytest.mark.django_db

WAIT = "this page takes only a few messages in a short while"


def test_one_reply_past_the_limit_is_refused_with_429_and_writes_nothing(client):
    limit, window = settings.CARE_TICKET_POST_RATE
    ticket = ticket_open(member_of(care_merchant()))
    page = f"/care/t/{ticket_token(ticket)}/"
    for number in range(limit):
        assert client.post(page, {"message": f"Message {number}"}).status_code == 303
    messages, emails = TicketMessage.objects.count(), len(mail.outbox)

    refused = client.post(page, {"message": "One message too many"})

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= window
    assert_private(refused)
    assert WAIT in refused.text
    assert "One message too many</textarea>" in refused.text  # nothing typed is lost
    assert TicketMessage.objects.count() == messages
    assert not TicketMessage.objects.filter(body="One message too many").exists()
    assert len(mail.outbox) == emails
    # Reading the page is not limited.
    assert client.get(page).status_code == 200


def test_a_rating_past_the_limit_is_refused_and_records_nothing(client):
    limit, _ = settings.CARE_TICKET_POST_RATE
    ticket = ticket_open(member_of(care_merchant()))
    page = f"/care/t/{ticket_token(ticket)}/"
    for number in range(limit):
        client.post(page, {"message": f"Message {number}"})
    services.ticket_move(ticket=ticket, to=TicketStatus.RESOLVED, actor=SYSTEM)

    refused = client.post(f"{page}rate/", {"score": "5", "comment": "Great"})

    assert refused.status_code == 429
    assert WAIT in refused.text
    assert not CSATResponse.objects.exists()


def test_another_ticket_link_has_its_own_count(client):
    limit, _ = settings.CARE_TICKET_POST_RATE
    member = member_of(care_merchant())
    busy, other = ticket_open(member), ticket_open(member, subject="Another question")
    for number in range(limit + 1):
        client.post(f"/care/t/{ticket_token(busy)}/", {"message": f"Message {number}"})

    answer = client.post(f"/care/t/{ticket_token(other)}/", {"message": "Hello"})

    assert answer.status_code == 303


def test_the_refusal_speaks_the_members_language(client):
    limit, _ = settings.CARE_TICKET_POST_RATE
    ticket = ticket_open(member_of(care_merchant(), locale="de"))
    page = f"/care/t/{ticket_token(ticket)}/"
    for number in range(limit):
        client.post(page, {"message": f"Nachricht {number}"})

    refused = client.post(page, {"message": "Noch eine"})

    assert refused.status_code == 429
    assert "nimmt diese Seite in kurzer Zeit nur wenige Nachrichten an" in refused.text
    assert WAIT not in refused.text
