"""The member's ticket page, ``/care/t/<token>/``: the public thread only, the member's
reply, files of public messages, and the rating once the ticket is resolved. The token is
the only credential: a changed one finds nothing, and every response stays private."""

import ast
import datetime
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation.template import templatize

import customercare
from core.actors import SYSTEM, Actor
from customercare import services
from customercare.links import ticket_page_url, ticket_token
from customercare.models import (
    CSATResponse,
    MessageAuthor,
    MessageKind,
    Ticket,
    TicketMessage,
    TicketStatus,
)
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open
from tests.fulfillment.test_translations import MARKED, read_po

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SECRET_NOTE = "Internal: check earlier goodwill before answering."
PUBLIC_REPLY = "We found your order and credited the points."


def upload(name: str, content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def page_of(ticket: Ticket) -> str:
    return reverse("care:ticket", kwargs={"token": ticket_token(ticket)})


def rate_of(ticket: Ticket) -> str:
    return reverse("care:ticket-rate", kwargs={"token": ticket_token(ticket)})


def file_of(ticket: Ticket, attachment_id: int) -> str:
    return reverse(
        "care:ticket-file", kwargs={"token": ticket_token(ticket), "attachment_id": attachment_id}
    )


def form_token(html: str) -> str:
    (token,) = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))
    return token


def assert_private(response) -> None:
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Robots-Tag"] == "noindex, nofollow"


@pytest.fixture
def agent():
    return agent_make()


@pytest.fixture
def ticket(agent):
    member = member_of(care_merchant(), 300)
    ticket = ticket_open(member, subject="Points missing", body="My order W-1 earned nothing.")
    services.ticket_reply(
        ticket=ticket,
        body=SECRET_NOTE,
        internal=True,
        actor=Actor.staff(agent),
        attachments=[upload("agent-notes.pdf")],
    )
    services.ticket_reply(
        ticket=ticket,
        body=PUBLIC_REPLY,
        internal=False,
        actor=Actor.staff(agent),
        attachments=[upload("statement.pdf")],
    )
    return Ticket.objects.get(pk=ticket.pk)


def test_the_page_shows_the_public_thread_and_never_internal_notes(client, ticket):
    response = client.get(page_of(ticket))
    assert response.status_code == 200
    html = response.text
    assert "Points missing" in html
    assert ticket.reference in html
    assert "My order W-1 earned nothing." in html
    assert PUBLIC_REPLY in html
    assert "statement.pdf" in html
    assert SECRET_NOTE not in html
    assert "agent-notes.pdf" not in html
    assert_private(response)


def test_the_link_the_emails_carry_opens_the_page(client, ticket):
    url = ticket_page_url(ticket)
    assert url.startswith("http")
    path = url[url.index("/care/") :]
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: token.replace("T-", "T-0", 1),
        lambda token: "T-AAAAAAAAAAAA",
        lambda token: "x" * 500,
        lambda token: token.replace("T-", "T-\x00", 1),
    ],
)
def test_a_changed_token_is_a_404_and_private(client, ticket, change):
    url = reverse("care:ticket", kwargs={"token": change(ticket_token(ticket))})
    response = client.get(url)
    assert response.status_code == 404
    assert PUBLIC_REPLY not in response.text
    assert_private(response)
    posted = client.post(url, {"message": "Hello"})
    assert posted.status_code == 404
    assert TicketMessage.objects.filter(ticket=ticket).count() == 3


def test_opening_the_page_changes_nothing(client, ticket):
    before = list(Ticket.objects.values())
    client.get(page_of(ticket))
    assert list(Ticket.objects.values()) == before


def test_the_member_replies_with_a_file_through_the_form(ticket):
    services.ticket_move(ticket=ticket, to=TicketStatus.PENDING_CUSTOMER, actor=SYSTEM)
    client = Client(enforce_csrf_checks=True)
    page = page_of(ticket)  # once: a token made a second later differs
    opened = client.get(page)
    response = client.post(
        page,
        {
            "csrfmiddlewaretoken": form_token(opened.text),
            "message": "Here is the receipt.",
            "attachments": [upload("receipt.pdf")],
        },
    )
    assert response.status_code == 303
    assert response["Location"] == page + "?sent=1"
    assert_private(response)
    message = TicketMessage.objects.filter(ticket=ticket).latest("id")
    assert (message.kind, message.author_type) == (MessageKind.PUBLIC, MessageAuthor.MEMBER)
    assert message.body == "Here is the receipt."
    assert [a.filename for a in message.attachments.all()] == ["receipt.pdf"]
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.OPEN
    shown = client.get(response["Location"])
    assert "Your message was sent." in shown.text
    assert "Here is the receipt." in shown.text


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"message": "   "}, 400),
        ({"message": "x" * 10_001}, 400),
        ({}, 400),
        ({"message": "Look", "attachments": [upload("setup.exe", b"MZ\x90\x00" * 16)]}, 400),
        ({"message": "Look", "attachments": [upload("photo.png", PDF)]}, 400),
    ],
)
def test_a_bad_reply_is_refused_and_writes_nothing(client, ticket, data, status):
    before = TicketMessage.objects.count()
    response = client.post(page_of(ticket), data)
    assert response.status_code == status
    assert_private(response)
    assert TicketMessage.objects.count() == before


def test_a_closed_ticket_takes_no_reply(client, ticket):
    services.ticket_move(ticket=ticket, to=TicketStatus.RESOLVED, actor=SYSTEM)
    services.ticket_move(ticket=ticket, to=TicketStatus.CLOSED, actor=SYSTEM)
    page = client.get(page_of(ticket))
    assert 'name="message"' not in page.text
    assert "This request is closed." in page.text
    response = client.post(page_of(ticket), {"message": "Hello again"})
    assert response.status_code == 409
    assert TicketMessage.objects.filter(body="Hello again").count() == 0


def test_a_ticket_resolved_longer_ago_than_the_reopen_window_takes_no_reply(client, ticket):
    services.ticket_move(ticket=ticket, to=TicketStatus.RESOLVED, actor=SYSTEM)
    within = client.get(page_of(ticket))
    assert 'name="message"' in within.text
    Ticket.objects.filter(pk=ticket.pk).update(
        resolved_at=timezone.now() - datetime.timedelta(days=8)
    )
    after = client.get(page_of(ticket))
    assert 'name="message"' not in after.text
    assert 'name="score"' in after.text  # the rating is still open
    response = client.post(page_of(ticket), {"message": "Reopen please"})
    assert response.status_code == 409
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.RESOLVED


def test_a_post_without_the_pages_csrf_token_writes_nothing(ticket):
    client = Client(enforce_csrf_checks=True)
    client.get(page_of(ticket))
    before = TicketMessage.objects.count()
    for url, data in (
        (page_of(ticket), {"message": "Forged"}),
        (page_of(ticket), {"message": "Forged", "csrfmiddlewaretoken": "x" * 64}),
        (rate_of(ticket), {"score": "1"}),
    ):
        response = client.post(url, data)
        assert response.status_code == 403
        assert_private(response)
    assert TicketMessage.objects.count() == before
    assert not CSATResponse.objects.exists()


def test_a_public_file_downloads_and_an_internal_notes_file_does_not(client, ticket):
    public = ticket.messages.get(kind=MessageKind.PUBLIC, author_type=MessageAuthor.STAFF)
    internal = ticket.messages.get(kind=MessageKind.INTERNAL, author_type=MessageAuthor.STAFF)
    (public_file,) = public.attachments.all()
    (internal_file,) = internal.attachments.all()
    response = client.get(file_of(ticket, public_file.pk))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert_private(response)
    refused = client.get(file_of(ticket, internal_file.pk))
    assert refused.status_code == 404
    assert b"%PDF" not in refused.content
    assert_private(refused)
    for bad in ("0", "abc", "9" * 40):
        assert client.get(file_of(ticket, bad)).status_code == 404


def test_a_file_of_another_ticket_is_not_served_under_this_link(client, ticket, agent):
    other = ticket_open(ticket.member, subject="Another")
    services.ticket_reply(
        ticket=other,
        body="Here",
        internal=False,
        actor=Actor.staff(agent),
        attachments=[upload("x.pdf")],
    )
    (other_file,) = other.messages.get(author_type=MessageAuthor.STAFF).attachments.all()
    assert client.get(file_of(ticket, other_file.pk)).status_code == 404
    assert client.get(file_of(other, other_file.pk)).status_code == 200


def test_the_rating_is_taken_once_per_resolution(ticket, agent):
    client = Client(enforce_csrf_checks=True)
    unresolved = client.get(page_of(ticket))
    assert 'name="score"' not in unresolved.text
    services.ticket_move(ticket=ticket, to=TicketStatus.RESOLVED, actor=Actor.staff(agent))
    opened = client.get(page_of(ticket))
    assert 'name="score"' in opened.text
    csrf = form_token(opened.text)
    response = client.post(
        rate_of(ticket), {"csrfmiddlewaretoken": csrf, "score": "4", "comment": "Quick answer"}
    )
    assert response.status_code == 200
    assert "Thank you for your rating" in response.text
    assert_private(response)
    rating = CSATResponse.objects.get()
    assert (rating.score, rating.comment, rating.via, rating.resolution) == (
        4,
        "Quick answer",
        "link",
        1,
    )
    again = client.post(rate_of(ticket), {"csrfmiddlewaretoken": csrf, "score": "1"})
    assert again.status_code == 409
    assert CSATResponse.objects.get().score == 4
    shown = client.get(page_of(ticket))
    assert 'name="score"' not in shown.text
    assert "You rated our answer 4 out of 5." in shown.text


@pytest.mark.parametrize("score", ["0", "6", "five", ""])
def test_a_bad_rating_records_nothing(client, ticket, agent, score):
    services.ticket_move(ticket=ticket, to=TicketStatus.RESOLVED, actor=Actor.staff(agent))
    response = client.post(rate_of(ticket), {"score": score})
    assert response.status_code == 400
    assert not CSATResponse.objects.exists()


def test_rating_before_resolution_is_refused(client, ticket):
    response = client.post(rate_of(ticket), {"score": "5"})
    assert response.status_code == 409
    assert not CSATResponse.objects.exists()


def test_the_page_is_in_the_members_locale(client, agent):
    member = member_of(care_merchant(), locale="fr_CA")
    ticket = ticket_open(member)
    html = client.get(page_of(ticket)).text
    assert '<html lang="fr"' in html
    assert "Votre message" in html
    assert "Reçue" in html  # the status, as the member reads it
    arabic = ticket_open(member_of(care_merchant(), locale="ar"))
    assert 'dir="rtl"' in client.get(page_of(arabic)).text


def test_a_merged_tickets_link_shows_the_thread_it_went_into(client, ticket, agent):
    newer = ticket_open(ticket.member, subject="Same problem", body="Still no points.")
    services.ticket_merge(ticket=newer, into=ticket, actor=Actor.staff(agent))
    html = client.get(page_of(Ticket.objects.get(pk=newer.pk))).text
    assert "Still no points." in html
    assert PUBLIC_REPLY in html
    assert SECRET_NOTE not in html
    assert "was merged into this ticket" not in html


def test_the_page_answers_only_get_and_post(client, ticket):
    assert client.put(page_of(ticket)).status_code == 405
    assert client.get(rate_of(ticket)).status_code == 405
    assert client.post(file_of(ticket, 1)).status_code == 405


# -- the catalogs ---------------------------------------------------------------------------

APP = Path(customercare.__file__).parent


def page_texts() -> set[str]:
    """Every text the member pages mark for translation: in their templates and views."""
    texts = set()
    for template in (APP / "templates" / "customercare" / "member").glob("*.html"):
        code = templatize(template.read_text(encoding="utf-8"), origin=str(template))
        texts.update(ast.literal_eval(call.group(1)) for call in MARKED.finditer(code))
    for node in ast.walk(ast.parse((APP / "views.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_":
            texts.add(node.args[0].value)
    return texts


@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES if code != "en"])
def test_every_page_text_is_translated_in_every_language(language):
    texts = page_texts()
    assert len(texts) > 40  # the templates and views were read
    entries = read_po(APP / "locale" / language / "LC_MESSAGES" / "django.po")
    translated = {
        entry["msgid"]
        for entry in entries[1:]
        if "fuzzy" not in entry["flags"] and entry["msgstr"].get(0, "").strip()
    }
    assert texts - translated == set()
