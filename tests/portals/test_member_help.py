"""The member portal's Help section, ``/m/<merchant>/help/``: the member's own tickets,
the published FAQ and the terms in force; asking for help (each bad answer a 400 that
writes nothing, CSRF, a limit per member, one ticket per form however often it is sent);
a ticket's public thread, the member's reply and rating; never another member's or
another merchant's ticket, never an internal note."""

import datetime
import re
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.utils import timezone

from core.actors import SYSTEM, Actor
from customercare import services
from customercare.models import (
    CSATResponse,
    FAQEntry,
    MessageAuthor,
    MessageKind,
    ProgramTerms,
    Ticket,
    TicketCategory,
    TicketChannel,
    TicketMessage,
    TicketStatus,
)
from integrations.widget.tokens import token_make
from merchants.services.stores import store_create
from portals.views.member_help import REDEMPTIONS_OFFERED
from tests.catalog.factories import select
from tests.customercare.factories import agent_make, ticket_open
from tests.fulfillment.factories import redemption_delivered, redemption_pending, sandbox_offer
from tests.loyalty.factories import member_make, points_give, program_merchant

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SECRET_NOTE = "Internal: check earlier goodwill before answering."
PUBLIC_REPLY = "We found your order and credited the points."


class Shop:
    def __init__(self, name: str, domain: str, external_id: str = "cust-ana", locale: str = "en"):
        self.merchant, _program = program_merchant(name=name, points_name="Beans")
        self.store, self.secret = store_create(
            merchant=self.merchant, name=name, platform="shopify", domain=domain, actor=SYSTEM
        )
        self.member = member_make(
            self.merchant,
            external_id,
            email="ana@example.com",
            first_name="Ana",
            locale=locale,
            country="US",
            points=5000,
        )

    def url(self, path: str = "") -> str:
        return f"/m/{self.merchant.slug}/help/{path}"

    def sign_in(self, client: Client | None = None, member=None) -> Client:
        client = client or Client()
        member = member or self.member
        token = token_make(
            secret=self.secret,
            store_public_id=self.store.public_id,
            external_id=member.external_id,
            expires=int(time.time()) + 300,
        )
        response = client.get(
            f"/m/{self.merchant.slug}/login/store?store={self.store.public_id}&token={token}"
        )
        assert response.status_code == 302
        return client


@pytest.fixture
def shop():
    return Shop("Northwind Rewards", "northwind.example")


@pytest.fixture
def other():
    return Shop("Bolt Bikes", "bolt.example")


@pytest.fixture
def agent():
    return agent_make()


def upload(name: str, content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def form_key(html: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def csrf_token(html: str) -> str:
    (token,) = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))
    return token


def new_form(client: Client, shop: Shop, **fields) -> dict:
    page = client.get(shop.url("new/"))
    assert page.status_code == 200
    data = {
        "category": TicketCategory.OTHER,
        "subject": "A question",
        "message": "How do tiers work?",
        "form_key": form_key(page.content.decode()),
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def ticket_url(shop: Shop, ticket: Ticket, suffix: str = "") -> str:
    return shop.url(f"tickets/{ticket.reference}/{suffix}")


def resolve(ticket: Ticket, agent) -> Ticket:
    services.ticket_reply(
        ticket=ticket,
        body=PUBLIC_REPLY,
        internal=False,
        then=TicketStatus.RESOLVED,
        actor=Actor.staff(agent),
    )
    ticket.refresh_from_db()
    return ticket


# -- the pages ---------------------------------------------------------------------------------


def test_the_help_pages_render_for_a_signed_in_member(shop):
    client = shop.sign_in()
    ticket = ticket_open(shop.member, subject="Where are my beans?")
    ProgramTerms.objects.create(
        merchant=shop.merchant,
        version=1,
        effective_on=timezone.localdate() - datetime.timedelta(days=3),
        body_en="Beans never expire.",
        is_published=True,
    )
    for url, text in (
        (shop.url(), "Where are my beans?"),
        (shop.url("new/"), "Ask for help"),
        (ticket_url(shop, ticket), "Where are my beans?"),
        (shop.url("terms/"), "Beans never expire."),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert text in body
        assert re.search(r'href="/m/[^"]+/help/" aria-current="page">Help<', body), url
        assert response["Cache-Control"] == "private, no-store"


def test_signed_out_the_help_pages_send_to_the_sign_in(shop):
    ticket = ticket_open(shop.member)
    for url in (shop.url(), shop.url("new/"), ticket_url(shop, ticket), shop.url("terms/")):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"/m/{shop.merchant.slug}/login/?next=")
    response = Client().post(shop.url("new/"), new_form(shop.sign_in(), shop))
    assert response.status_code == 302
    assert list(Ticket.objects.all()) == [ticket]  # the signed-out post opened none


def test_the_hub_lists_the_members_own_tickets_newest_first_without_merged_ones(shop, other):
    first = ticket_open(shop.member, subject="First question")
    second = ticket_open(shop.member, subject="Second question")
    merged = ticket_open(shop.member, subject="Merged away")
    services.ticket_merge(ticket=merged, into=second, actor=SYSTEM)
    neighbour = member_make(shop.merchant, "cust-bo", email="bo@example.com", country="US")
    ticket_open(neighbour, subject="Neighbour's question")
    ticket_open(other.member, subject="Other shop's question")
    body = shop.sign_in().get(shop.url()).content.decode()
    assert body.index("Second question") < body.index("First question")
    assert first.reference in body
    assert second.reference in body
    assert "Merged away" not in body
    assert "Neighbour&#x27;s question" not in body
    assert "Neighbour's question" not in body
    assert "Other shop" not in body
    assert "Received" in body  # the status in the member's words


def test_the_hub_shows_the_published_faq_only(shop, other):
    FAQEntry.objects.create(
        merchant=shop.merchant, question="How do I earn?", answer="Shop.", position=1
    )
    FAQEntry.objects.create(
        merchant=shop.merchant, question="Draft question", answer="Soon.", is_published=False
    )
    FAQEntry.objects.create(merchant=other.merchant, question="Bikes question", answer="Ride.")
    body = shop.sign_in().get(shop.url()).content.decode()
    assert "<details>" in body
    assert "How do I earn?" in body
    assert "Draft question" not in body
    assert "Bikes question" not in body


# -- tenancy --------------------------------------------------------------------------------------


def test_another_members_ticket_is_a_404_and_nothing_is_written(shop):
    neighbour = member_make(shop.merchant, "cust-bo", email="bo@example.com", country="US")
    theirs = ticket_open(neighbour, subject="Bo's question", body="Private words.")
    client = shop.sign_in()
    messages = TicketMessage.objects.count()
    for response in (
        client.get(ticket_url(shop, theirs)),
        client.post(ticket_url(shop, theirs), {"message": "Hello"}),
        client.post(ticket_url(shop, theirs, "rate"), {"score": "5"}),
        client.get(ticket_url(shop, theirs, "files/1/")),
        client.get(shop.url("tickets/T-NOSUCHTHING/")),
    ):
        assert response.status_code == 404
        assert b"Private words." not in response.content
    assert TicketMessage.objects.count() == messages


def test_another_merchants_portal_with_this_session_shows_no_ticket(shop, other):
    ticket = ticket_open(shop.member, subject="Northwind question")
    client = shop.sign_in()
    # Not signed in to the other merchant: its pages are a sign-in.
    response = client.get(f"/m/{other.merchant.slug}/help/tickets/{ticket.reference}/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"/m/{other.merchant.slug}/login/")
    # Signed in to both: this merchant's reference under the other's address finds nothing.
    other.sign_in(client)
    response = client.get(f"/m/{other.merchant.slug}/help/tickets/{ticket.reference}/")
    assert response.status_code == 404
    assert b"Northwind question" not in response.content
    assert b"Northwind question" not in client.get(other.url()).content


def test_a_redemption_of_another_member_cannot_be_named(shop):
    neighbour = member_make(
        shop.merchant, "cust-bo", email="bo@example.com", country="US", points=5000
    )
    theirs = redemption_delivered(shop.merchant, neighbour)
    client = shop.sign_in()
    data = new_form(
        client, shop, category=TicketCategory.REWARD_NOT_RECEIVED, redemption=str(theirs.public_id)
    )
    response = client.post(shop.url("new/"), data)
    assert response.status_code == 400
    assert not Ticket.objects.exists()


# -- the thread ---------------------------------------------------------------------------------


def test_internal_notes_and_their_files_are_never_shown(shop, agent):
    ticket = ticket_open(shop.member, subject="Points missing", body="My order earned nothing.")
    services.ticket_reply(
        ticket=ticket,
        body=SECRET_NOTE,
        internal=True,
        attachments=[upload("note.pdf")],
        actor=Actor.staff(agent),
    )
    services.ticket_reply(
        ticket=ticket,
        body=PUBLIC_REPLY,
        internal=False,
        attachments=[upload("answer.pdf")],
        actor=Actor.staff(agent),
    )
    client = shop.sign_in()
    body = client.get(ticket_url(shop, ticket)).content.decode()
    assert PUBLIC_REPLY in body
    assert "My order earned nothing." in body
    assert SECRET_NOTE not in body
    assert "note.pdf" not in body
    note_file = TicketMessage.objects.get(kind=MessageKind.INTERNAL, body=SECRET_NOTE)
    public_file = TicketMessage.objects.get(body=PUBLIC_REPLY).attachments.get()
    assert (
        client.get(ticket_url(shop, ticket, f"files/{note_file.attachments.get().pk}/")).status_code
        == 404
    )
    download = client.get(ticket_url(shop, ticket, f"files/{public_file.pk}/"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert "answer.pdf" in download["Content-Disposition"]
    assert client.get(ticket_url(shop, ticket, "files/x1/")).status_code == 404


def test_a_merged_ticket_leads_to_the_one_it_went_into(shop):
    into = ticket_open(shop.member, subject="Kept")
    merged = ticket_open(shop.member, subject="Merged")
    services.ticket_merge(ticket=merged, into=into, actor=SYSTEM)
    response = shop.sign_in().get(ticket_url(shop, merged))
    assert response.status_code == 302
    assert response["Location"] == ticket_url(shop, into)


def test_the_members_reply_is_added_and_reopens_a_resolved_ticket(shop, agent):
    ticket = resolve(ticket_open(shop.member), agent)
    client = shop.sign_in()
    response = client.post(
        ticket_url(shop, ticket), {"message": "Still nothing.", "attachments": [upload("a.pdf")]}
    )
    assert response.status_code == 303
    assert response["Location"] == ticket_url(shop, ticket) + "?replied=1"
    message = TicketMessage.objects.get(body="Still nothing.")
    assert message.author_type == MessageAuthor.MEMBER
    assert message.kind == MessageKind.PUBLIC
    assert message.attachments.count() == 1
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert "Your message was sent." in client.get(response["Location"]).content.decode()


def test_an_empty_reply_or_a_reply_to_a_closed_ticket_is_refused(shop, agent):
    ticket = ticket_open(shop.member)
    client = shop.sign_in()
    count = TicketMessage.objects.count()
    response = client.post(ticket_url(shop, ticket), {"message": "  "})
    assert response.status_code == 400
    assert "Write your message first." in response.content.decode()
    services.ticket_move(ticket=ticket, to=TicketStatus.CLOSED, actor=Actor.staff(agent))
    response = client.post(ticket_url(shop, ticket), {"message": "Hello?"})
    assert response.status_code == 409
    assert "Hello?" in response.content.decode() or "closed" in response.content.decode()
    assert TicketMessage.objects.count() == count


@override_settings(CARE_TICKET_POST_RATE=(2, 600))
def test_replies_to_one_ticket_are_limited_and_the_text_is_kept(shop):
    ticket = ticket_open(shop.member)
    client = shop.sign_in()
    for n in range(2):
        assert client.post(ticket_url(shop, ticket), {"message": f"Reply {n}"}).status_code == 303
    response = client.post(ticket_url(shop, ticket), {"message": "One too many"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "One too many" in response.content.decode()
    assert not TicketMessage.objects.filter(body="One too many").exists()


def test_the_member_rates_a_resolved_ticket_once(shop, agent):
    ticket = ticket_open(shop.member)
    client = shop.sign_in()
    assert "How did we do?" not in client.get(ticket_url(shop, ticket)).content.decode()
    # Not resolved yet: refused.
    assert client.post(ticket_url(shop, ticket, "rate"), {"score": "4"}).status_code == 409
    resolve(ticket, agent)
    assert "How did we do?" in client.get(ticket_url(shop, ticket)).content.decode()
    assert client.post(ticket_url(shop, ticket, "rate"), {"score": "9"}).status_code == 400
    response = client.post(ticket_url(shop, ticket, "rate"), {"score": "4", "comment": "Quick."})
    assert response.status_code == 303
    page = client.get(response["Location"]).content.decode()
    assert "You rated our answer 4 out of 5." in page
    again = client.post(ticket_url(shop, ticket, "rate"), {"score": "1"})
    assert again.status_code == 409
    assert "already rated" in again.content.decode()
    (rating,) = CSATResponse.objects.all()
    assert (rating.score, rating.comment, rating.via) == (4, "Quick.", "portal")
    assert client.get(ticket_url(shop, ticket, "rate")).status_code == 405


# -- asking for help ----------------------------------------------------------------------------


def test_opening_a_ticket_writes_the_members_own_public_message(shop):
    client = shop.sign_in()
    data = new_form(
        client,
        shop,
        category=TicketCategory.MISSING_POINTS,
        order="  1043 ",
        subject="Points for order 1043",
        message="I bought two bags of coffee.",
        attachments=[upload("receipt.pdf")],
    )
    response = client.post(shop.url("new/"), data)
    assert response.status_code == 303
    ticket = Ticket.objects.get()
    assert response["Location"] == ticket_url(shop, ticket) + "?sent=1"
    assert (ticket.merchant, ticket.member) == (shop.merchant, shop.member)
    assert ticket.channel == TicketChannel.PORTAL
    assert ticket.category == TicketCategory.MISSING_POINTS
    assert ticket.order_external_id == "1043"
    assert ticket.last_member_message_at is not None
    first = ticket.messages.get(kind=MessageKind.PUBLIC)
    assert (first.author_type, first.body) == (MessageAuthor.MEMBER, "I bought two bags of coffee.")
    assert first.attachments.get().filename == "receipt.pdf"
    page = client.get(response["Location"]).content.decode()
    assert "we have your request" in page
    assert "I bought two bags of coffee." in page


def test_a_ticket_about_a_reward_names_one_of_the_members_redemptions(shop):
    redemption = redemption_delivered(shop.merchant, shop.member)
    client = shop.sign_in()
    page = client.get(shop.url("new/")).content.decode()
    assert str(redemption.public_id) in page
    assert f"{redemption.reward.name}, $25.00, " in page  # told apart by value and date
    data = new_form(
        client,
        shop,
        category=TicketCategory.WRONG_REWARD,
        redemption=str(redemption.public_id),
        order="ignored",
    )
    assert client.post(shop.url("new/"), data).status_code == 303
    ticket = Ticket.objects.get()
    assert ticket.redemption == redemption
    assert ticket.order_external_id == ""


def test_a_rewards_page_asks_about_that_reward_even_an_older_one(shop, other):
    offer = sandbox_offer(shop.merchant)
    select(other.merchant, offer.reward, price_step=1)
    older = redemption_delivered(shop.merchant, shop.member, offer)
    # Newer ones enough to push it off the list.
    points_give(shop.member, REDEMPTIONS_OFFERED * 2500)
    for _ in range(REDEMPTIONS_OFFERED):
        redemption_pending(shop.merchant, shop.member, offer)
    assert str(older.public_id) not in shop.sign_in().get(shop.url("new/")).content.decode()
    theirs = redemption_delivered(other.merchant, other.member, offer)
    client = shop.sign_in()
    page = client.get(shop.url(f"new/?reward={older.public_id}")).content.decode()
    assert f'<option value="{older.public_id}" selected>' in page
    assert re.search(r'value="reward_not_received"[^>]*checked', page)
    # Another member's redemption, or no id at all, preselects nothing.
    for asked in (theirs.public_id, "not-a-uuid"):
        page = client.get(shop.url(f"new/?reward={asked}")).content.decode()
        assert f'<option value="{theirs.public_id}"' not in page
        assert not re.search(r'<option value="[0-9a-f-]{36}" selected>', page)
    data = new_form(
        client,
        shop,
        category=TicketCategory.REWARD_NOT_RECEIVED,
        redemption=str(older.public_id),
    )
    assert client.post(shop.url("new/"), data).status_code == 303
    assert Ticket.objects.get().redemption == older


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"category": None}, "Choose what your question is about."),
        ({"category": "refund_me"}, "Select a valid choice"),
        ({"category": TicketCategory.MISSING_POINTS, "order": " "}, "Tell us the number"),
        ({"category": TicketCategory.REWARD_NOT_RECEIVED}, "You have no rewards yet"),
        (
            {"category": TicketCategory.WRONG_REWARD, "redemption": "not-one"},
            "Select a valid choice",
        ),
        ({"subject": "   "}, "Give your question a short title."),
        ({"subject": "x" * 201}, "at most 200 characters"),
        ({"message": ""}, "Tell us what happened."),
        ({"message": "x" * 10_001}, "at most 10000 characters"),
        ({"message": "nul \x00 byte"}, "Null characters are not allowed"),
        ({"attachments": [upload("evil.exe", b"MZ\x90\x00")]}, "A file could not be attached"),
        ({"attachments": [upload(f"f{n}.pdf") for n in range(6)]}, "at most 5 files"),
        ({"form_key": "<script>"}, "This form has expired"),
    ],
)
def test_bad_answers_are_a_400_next_to_the_field_and_write_nothing(shop, fields, error):
    client = shop.sign_in()
    data = new_form(client, shop, subject="Keep this subject", message="Keep these words")
    data.update(fields)
    data = {key: value for key, value in data.items() if value is not None}
    response = client.post(shop.url("new/"), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert error in body
    assert 'class="errorlist' in body
    assert not Ticket.objects.exists()
    assert not TicketMessage.objects.exists()
    if "subject" not in fields:
        assert "Keep this subject" in body


def test_opening_a_ticket_needs_the_csrf_token(shop):
    client = shop.sign_in(Client(enforce_csrf_checks=True))
    page = client.get(shop.url("new/")).content.decode()
    data = new_form(client, shop)
    assert client.post(shop.url("new/"), data).status_code == 403
    assert not Ticket.objects.exists()
    response = client.post(shop.url("new/"), {**data, "csrfmiddlewaretoken": csrf_token(page)})
    assert response.status_code == 303
    assert Ticket.objects.count() == 1


def test_the_same_form_sent_twice_opens_one_ticket(shop):
    client = shop.sign_in()
    data = new_form(client, shop)
    first = client.post(shop.url("new/"), data)
    again = client.post(shop.url("new/"), data)
    ticket = Ticket.objects.get()
    assert first["Location"] == ticket_url(shop, ticket) + "?sent=1"
    assert again.status_code == 303
    assert again["Location"] == ticket_url(shop, ticket)
    # A fresh form is a new request.
    assert client.post(shop.url("new/"), new_form(client, shop)).status_code == 303
    assert Ticket.objects.count() == 2


def test_a_refused_form_may_be_sent_again_once_corrected(shop):
    client = shop.sign_in()
    data = new_form(client, shop, subject="")
    assert client.post(shop.url("new/"), data).status_code == 400
    assert client.post(shop.url("new/"), {**data, "subject": "Fixed"}).status_code == 303
    assert Ticket.objects.get().subject == "Fixed"


@override_settings(MEMBER_TICKET_RATE=(2, 3600))
def test_opening_tickets_is_limited_per_member_and_the_text_is_kept(shop):
    client = shop.sign_in()
    for n in range(2):
        response = client.post(shop.url("new/"), new_form(client, shop, subject=f"Q{n}"))
        assert response.status_code == 303
    data = new_form(client, shop, subject="Third", message="Please keep my words")
    response = client.post(shop.url("new/"), data)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    body = response.content.decode()
    assert "Please keep my words" in body
    assert 'value="Third"' in body
    assert Ticket.objects.count() == 2
    # Another member of the same merchant has a budget of their own.
    neighbour = member_make(shop.merchant, "cust-bo", email="bo@example.com", country="US")
    other_client = shop.sign_in(member=neighbour)
    assert other_client.post(shop.url("new/"), new_form(other_client, shop)).status_code == 303


# -- the terms ----------------------------------------------------------------------------------


def test_the_terms_in_force_and_earlier_versions_never_a_future_or_draft_one(shop, other):
    today = timezone.localdate()
    for version, days, published, body in (
        (1, -400, True, "First terms."),
        (2, -30, True, "Second terms."),
        (3, 30, True, "Future terms."),
        (4, -1, False, "Draft terms."),
    ):
        ProgramTerms.objects.create(
            merchant=shop.merchant,
            version=version,
            effective_on=today + datetime.timedelta(days=days),
            is_published=published,
            body_en=body,
            body_fr=body.replace("terms", "conditions"),
        )
    ProgramTerms.objects.create(
        merchant=other.merchant, version=9, effective_on=today, is_published=True, body_en="Bikes."
    )
    client = shop.sign_in()
    body = client.get(shop.url("terms/")).content.decode()
    assert "Second terms." in body
    assert "Version 1" in body
    assert "Version 2" in body
    assert "Future" not in body
    assert "Draft" not in body
    assert "Version 3" not in body
    earlier = client.get(shop.url("terms/?version=1")).content.decode()
    assert "First terms." in earlier
    assert "This version has been replaced." in earlier
    for asked in ("3", "4", "9", "0", "x", "-1", "1.0", "99999999999", "١"):  # noqa: RUF001
        assert client.get(shop.url(f"terms/?version={asked}")).status_code == 404, asked
    assert "Bikes." not in body


def test_the_terms_follow_the_members_language(shop):
    ProgramTerms.objects.create(
        merchant=shop.merchant,
        version=1,
        effective_on=timezone.localdate(),
        is_published=True,
        body_en="English terms.",
        body_fr="Conditions en français.",
    )
    shop.member.locale = "fr"
    shop.member.save(update_fields=["locale"])
    body = shop.sign_in().get(shop.url("terms/")).content.decode()
    assert "Conditions en français." in body
