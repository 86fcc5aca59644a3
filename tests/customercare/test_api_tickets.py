"""The ticket endpoints of the store API: opening (JSON and multipart), a member's list,
the public thread, the member's messages, their rating and the files. Internal notes
never reach any of them, another merchant's tickets do not exist, and bad input changes
nothing."""

import json
import uuid
from decimal import Decimal
from io import StringIO

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.client import encode_multipart
from django.test.utils import CaptureQueriesContext

from core.actors import SYSTEM, Actor
from customercare import attachments as attachment_rules
from customercare import services
from customercare.models import (
    CSATResponse,
    MessageAuthor,
    MessageKind,
    Ticket,
    TicketAttachment,
    TicketCategory,
    TicketMessage,
    TicketStatus,
)
from fulfillment.models import Redemption
from fulfillment.services import redemptions as fulfillment_services
from merchants.models import Scope
from tests.catalog.factories import OfferFactory, RewardFactory, select
from tests.conftest import assert_not_found, assert_problem, make_tenant
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open
from tests.loyalty.apihelpers import post_json, program_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00" + b"\x00" * 60
SECRET_NOTE = "Internal: the member has asked for goodwill three times this month."


def upload(name: str, content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def ticket_url(reference: str, suffix: str = "") -> str:
    return f"{URL}{reference}/{suffix}"


def rows() -> dict[str, int]:
    return {
        "tickets": Ticket.objects.count(),
        "messages": TicketMessage.objects.count(),
        "attachments": TicketAttachment.objects.count(),
        "csat": CSATResponse.objects.count(),
    }


def assert_ticket_not_found(response) -> None:
    assert_problem(response, 404, "ticket_not_found")


@pytest.fixture
def shop():
    return make_tenant(care_merchant())


@pytest.fixture
def member(shop):
    return member_of(shop.merchant, 500)


def body(member, /, **fields):
    return {
        "member": member.external_id,
        "category": "other",
        "subject": "Question about my points",
        "message": "How long until my points are available?",
        **fields,
    }


def open_by_api(shop, member, **fields) -> dict:
    response = post_json(shop.client, URL, body(member, **fields))
    assert response.status_code == 201, response.content
    return response.json()


def resolve(reference: str) -> Ticket:
    ticket = Ticket.objects.get(reference=reference)
    return services.ticket_move(
        ticket=ticket, to=TicketStatus.RESOLVED, actor=Actor.staff(agent_make())
    )


def redemption_of(member) -> Redemption:
    reward = RewardFactory(denominations=["5"])
    OfferFactory(reward=reward)
    select(member.merchant, reward, price_step=1)
    return fulfillment_services.redemption_create(
        merchant=member.merchant,
        data=fulfillment_services.RedemptionInput(
            member_external_id=member.external_id,
            reward_id=reward.pk,
            value=Decimal("5"),
            recipient={"email": "ana@example.com"},
        ),
        actor=Actor.system("test"),
    ).obj


# -- opening -------------------------------------------------------------------------------


@pytest.mark.parametrize("category", TicketCategory.values)
def test_a_ticket_opens_in_each_category_with_the_members_message(shop, member, category):
    extra = {"order": "W-1"} if category == TicketCategory.MISSING_POINTS else {}
    created = open_by_api(shop, member, category=category, **extra)
    ticket = Ticket.objects.get()
    assert created["reference"] == ticket.reference
    assert created["category"] == category
    assert created["status"] == "new"
    assert created["member"] == member.external_id
    assert created["subject"] == "Question about my points"
    (message,) = created["messages"]
    assert message["author"] == "member"
    assert message["body"] == "How long until my points are available?"
    assert created["csat"] is None
    assert created["csat_open"] is False
    assert ticket.channel == "api"
    # The system's finding on a claim is an internal note: stored, never answered.
    internal = ticket.messages.filter(kind=MessageKind.INTERNAL)
    for note in internal:
        assert note.body not in json.dumps(created)


def test_a_missing_points_ticket_names_the_order(shop, member):
    before = rows()
    response = post_json(shop.client, URL, body(member, category="missing_points"))
    assert_problem(response, 400, "invalid_input", "order")
    assert rows() == before
    created = open_by_api(shop, member, category="missing_points", order="W-77")
    assert created["order"] == "W-77"


def test_a_ticket_names_one_of_the_members_redemptions_only(shop, member):
    mine = redemption_of(member)
    someone_else = member_of(shop.merchant, 500, email="bo@example.com")
    theirs = redemption_of(someone_else)
    before = rows()
    for public_id in (theirs.public_id, uuid.uuid4()):
        response = post_json(
            shop.client,
            URL,
            body(member, category="reward_not_received", redemption=str(public_id)),
        )
        assert_problem(response, 400, "invalid_input", "redemption")
    assert rows() == before
    created = open_by_api(
        shop, member, category="reward_not_received", redemption=str(mine.public_id)
    )
    assert created["redemption"] == str(mine.public_id)
    assert Ticket.objects.get().redemption == mine


def test_an_unknown_member_is_a_404_and_opens_nothing(shop, member):
    before = rows()
    response = post_json(shop.client, URL, body(member, member="nobody-here"))
    assert_problem(response, 404, "not_found", "member")
    assert rows() == before


@pytest.mark.parametrize(
    ("changes", "attr"),
    [
        pytest.param({"category": "refund_please"}, "category", id="category-unknown"),
        pytest.param({"category": None}, "category", id="category-null"),
        pytest.param({"subject": "   "}, "subject", id="subject-blank"),
        pytest.param({"subject": "x" * 201}, "subject", id="subject-too-long"),
        pytest.param({"subject": "a\x00b"}, "subject", id="subject-nul"),
        pytest.param({"message": ""}, "message", id="message-empty"),
        pytest.param({"message": "x" * 10_001}, "message", id="message-too-long"),
        pytest.param({"message": ["not", "text"]}, "message", id="message-list"),
        pytest.param({"member": "has spaces"}, "member", id="member-malformed"),
        pytest.param({"member": ["cust-1"]}, "member", id="member-list"),
        pytest.param({"order": "bad order id"}, "order", id="order-malformed"),
        pytest.param({"redemption": "not-a-uuid"}, "redemption", id="redemption-malformed"),
        pytest.param({"attachments": "receipt.pdf"}, "attachments", id="attachments-not-files"),
    ],
)
def test_bad_input_is_a_400_with_the_field_and_writes_nothing(shop, member, changes, attr):
    before = rows()
    response = post_json(shop.client, URL, body(member, **changes))
    assert_problem(response, 400, "invalid_input", attr)
    assert rows() == before


@pytest.mark.parametrize("payload", [[1, 2], "text", None, {}])
def test_a_body_that_is_not_a_ticket_is_a_400(shop, payload):
    before = rows()
    response = post_json(shop.client, URL, payload)
    assert_problem(response, 400, "invalid_input")
    assert rows() == before


def test_malformed_json_is_a_400(shop):
    response = shop.client.post(URL, '{"member": ', content_type="application/json")
    assert_problem(response, 400, "parse_error")
    assert not Ticket.objects.exists()


def test_an_idempotency_key_replays_the_same_ticket(shop, member):
    first = shop.client.post(
        URL, json.dumps(body(member)), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = shop.client.post(
        URL, json.dumps(body(member)), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["reference"] == first.json()["reference"]
    assert Ticket.objects.count() == 1
    other = shop.client.post(
        URL,
        json.dumps(body(member, subject="Another")),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert_problem(other, 409, "idempotency_key_reused")
    assert Ticket.objects.count() == 1


def test_an_idempotency_key_replays_a_multipart_ticket(shop, member):
    def send():
        return shop.client.post(
            URL,
            {**body(member), "attachments": [upload("receipt.pdf")]},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="files-1",
        )

    first, again = send(), send()
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert rows()["attachments"] == 1


def test_a_large_upload_with_an_idempotency_key_is_kept_and_replayed(shop, member):
    """Files larger than the body Django keeps in memory still go through with a key,
    and a retry, whose multipart boundary differs, is the same request."""
    big = PDF + b"0" * (3 * 1024 * 1024)

    def send(boundary: str, content: bytes = big):
        data = encode_multipart(
            boundary, {**body(member), "attachments": upload("big.pdf", content)}
        )
        return shop.client.post(
            URL,
            data,
            content_type=f"multipart/form-data; boundary={boundary}",
            HTTP_IDEMPOTENCY_KEY="big-1",
        )

    first = send("AaB03x")
    again = send("ZzY98w")
    assert first.status_code == again.status_code == 201, first.content
    assert again["Idempotent-Replayed"] == "true"
    assert rows()["attachments"] == 1
    other = send("QqQ11q", content=big + b"1")
    assert_problem(other, 409, "idempotency_key_reused")
    assert rows()["attachments"] == 1


def test_a_read_only_key_reads_but_cannot_open_or_write(shop, member):
    reference = open_by_api(shop, member)["reference"]
    reader = make_tenant(shop.merchant, scopes=(Scope.READ,))
    assert reader.client.get(ticket_url(reference)).status_code == 200
    before = rows()
    for url, payload in (
        (URL, body(member)),
        (ticket_url(reference, "messages/"), {"message": "Hello?"}),
        (ticket_url(reference, "csat/"), {"score": 5}),
    ):
        assert_problem(post_json(reader.client, url, payload), 403, "insufficient_scope")
    assert rows() == before


# -- attachments ---------------------------------------------------------------------------


def test_a_pdf_is_accepted_and_downloads_as_an_attachment(shop, member):
    response = shop.client.post(
        URL, {**body(member), "attachments": [upload("receipt.pdf")]}, format="multipart"
    )
    assert response.status_code == 201, response.content
    (file,) = response.json()["messages"][0]["attachments"]
    assert file["filename"] == "receipt.pdf"
    assert file["content_type"] == "application/pdf"
    assert file["size"] == len(PDF)
    reference = response.json()["reference"]
    assert file["url"].endswith(ticket_url(reference, f"attachments/{file['id']}/"))
    download = shop.client.get(file["url"], HTTP_ACCEPT="application/pdf")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;")
    assert "receipt.pdf" in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("setup.exe", EXE, id="exe"),
        pytest.param("photo.png", PDF, id="pdf-named-png"),
        pytest.param("big.pdf", PDF + b"0" * attachment_rules.MAX_BYTES, id="oversized"),
        pytest.param("empty.pdf", b"", id="empty"),
    ],
)
def test_refused_files_open_nothing(shop, member, name, content):
    before = rows()
    response = shop.client.post(
        URL, {**body(member), "attachments": [upload(name, content)]}, format="multipart"
    )
    assert_problem(response, 400, "attachment_refused", "attachments")
    assert rows() == before


def test_more_files_than_allowed_are_refused(shop, member):
    files = [upload(f"{n}.pdf") for n in range(attachment_rules.MAX_FILES + 1)]
    response = shop.client.post(URL, {**body(member), "attachments": files}, format="multipart")
    assert_problem(response, 400, "attachment_refused", "attachments")
    assert not Ticket.objects.exists()


def test_refused_file_on_a_message_writes_nothing(shop, member):
    reference = open_by_api(shop, member)["reference"]
    before = rows()
    response = shop.client.post(
        ticket_url(reference, "messages/"),
        {"message": "Here it is", "attachments": [upload("setup.exe", EXE)]},
        format="multipart",
    )
    assert_problem(response, 400, "attachment_refused", "attachments")
    assert rows() == before


def test_a_file_gone_from_storage_is_a_404_not_an_error(shop, member):
    created = shop.client.post(
        URL, {**body(member), "attachments": [upload("receipt.pdf")]}, format="multipart"
    ).json()
    file = created["messages"][0]["attachments"][0]
    stored = TicketAttachment.objects.get(pk=file["id"])
    stored.file.storage.delete(stored.file.name)
    assert_not_found(shop.client.get(file["url"]))


@pytest.mark.parametrize("attachment_id", ["999999", "0", "abc", "9" * 30, "-1", "\u0661", "%00"])
def test_unknown_attachment_ids_are_404(shop, member, attachment_id):
    reference = open_by_api(shop, member)["reference"]
    response = shop.client.get(ticket_url(reference, f"attachments/{attachment_id}/"))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")


# -- internal notes -----------------------------------------------------------------------


def test_internal_notes_and_their_files_never_reach_any_member_route(shop, member):
    created = open_by_api(shop, member)
    reference = created["reference"]
    ticket = Ticket.objects.get(reference=reference)
    agent = agent_make()
    note = services.ticket_reply(
        ticket=ticket,
        body=SECRET_NOTE,
        internal=True,
        actor=Actor.staff(agent),
        attachments=[upload("internal-report.pdf")],
    )
    services.ticket_reply(
        ticket=ticket,
        body="We are checking with the store.",
        internal=False,
        actor=Actor.staff(agent),
    )
    (note_file,) = note.attachments.all()

    detail = shop.client.get(ticket_url(reference))
    listing = shop.client.get(URL, {"member": member.external_id})
    message = post_json(shop.client, ticket_url(reference, "messages/"), {"message": "Thanks!"})
    assert detail.status_code == listing.status_code == 200
    assert message.status_code == 201
    for response in (detail, listing, message):
        text = response.content.decode()
        assert SECRET_NOTE not in text
        assert "internal-report.pdf" not in text
        assert f"attachments/{note_file.pk}/" not in text
    bodies = [m["body"] for m in detail.json()["messages"]]
    assert bodies == ["How long until my points are available?", "We are checking with the store."]
    assert [m["author"] for m in detail.json()["messages"]] == ["member", "staff"]
    assert [m["body"] for m in listing.json()["results"][0]["messages"]] == bodies
    assert message.json()["body"] == "Thanks!"

    download = shop.client.get(ticket_url(reference, f"attachments/{note_file.pk}/"))
    assert_not_found(download)
    assert b"%PDF" not in download.content


# -- reading -------------------------------------------------------------------------------


def test_detail_by_reference_in_any_case(shop, member):
    reference = open_by_api(shop, member)["reference"]
    for asked in (reference, reference.lower()):
        response = shop.client.get(ticket_url(asked))
        assert response.status_code == 200
        assert response.json()["reference"] == reference
    assert_ticket_not_found(shop.client.get(ticket_url("T-000000000000")))
    assert_ticket_not_found(shop.client.get(ticket_url("x" * 300)))


@pytest.mark.parametrize("reference", ["T-%00", "T-%00ABC", "%20", "T-%E2%82%AC"])
def test_odd_references_are_404_on_every_route(shop, member, reference):
    open_by_api(shop, member)
    assert_ticket_not_found(shop.client.get(ticket_url(reference)))
    assert_ticket_not_found(
        post_json(shop.client, ticket_url(reference, "messages/"), {"message": "Hi"})
    )
    assert_ticket_not_found(post_json(shop.client, ticket_url(reference, "csat/"), {"score": 3}))
    assert_ticket_not_found(shop.client.get(ticket_url(reference, "attachments/1/")))


@pytest.mark.parametrize(
    "query", [{"member": "\x00"}, {"member": "a", "cursor": "not-a-cursor"}, {"member": ""}]
)
def test_odd_list_queries_are_4xx(shop, member, query):
    response = shop.client.get(URL, query)
    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/problem+json")


def test_the_list_needs_a_member(shop, member):
    assert_problem(shop.client.get(URL), 400, "invalid_input", "member")
    assert_problem(shop.client.get(URL, {"member": "bad id"}), 400, "invalid_input", "member")
    assert_problem(shop.client.get(URL, {"member": "nobody"}), 404, "not_found", "member")


def test_the_list_is_the_members_own_tickets_newest_first_in_pages(shop, member):
    someone_else = member_of(shop.merchant, email="bo@example.com")
    references = [open_by_api(shop, member, subject=f"Ticket {n}")["reference"] for n in range(3)]
    open_by_api(shop, someone_else)
    first = shop.client.get(URL, {"member": member.external_id, "page_size": 2})
    assert first.status_code == 200
    page = first.json()
    assert [t["reference"] for t in page["results"]] == references[::-1][:2]
    assert page["next"]
    second = shop.client.get(page["next"]).json()
    assert [t["reference"] for t in second["results"]] == references[:1]
    assert second["next"] is None


def test_the_list_query_count_does_not_grow_with_tickets(
    shop, member, django_assert_max_num_queries
):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = shop.client.get(URL, {"member": member.external_id})
        assert response.status_code == 200
        return len(queries)

    def ticket_with_files() -> None:
        shop.client.post(
            URL,
            {**body(member), "attachments": [upload("a.pdf"), upload("b.pdf")]},
            format="multipart",
        )
        ticket = Ticket.objects.order_by("-id").first()
        services.ticket_reply(
            ticket=ticket, body="Answer", internal=False, actor=Actor.staff(agent)
        )
        services.ticket_move(ticket=ticket, to=TicketStatus.RESOLVED, actor=Actor.staff(agent))
        services.csat_record(ticket=ticket, score=4, comment="", via="api")

    agent = agent_make()
    ticket_with_files()
    one = count_queries()
    for _ in range(4):
        ticket_with_files()
    assert count_queries() == one
    with django_assert_max_num_queries(6):
        response = shop.client.get(URL, {"member": member.external_id})
    assert len(response.json()["results"]) == 5
    assert all(t["csat"]["score"] == 4 for t in response.json()["results"])


# -- the member's messages -----------------------------------------------------------------


def test_a_members_message_is_public_and_reopens_a_ticket_waiting_on_them(shop, member):
    reference = open_by_api(shop, member)["reference"]
    ticket = Ticket.objects.get(reference=reference)
    services.ticket_move(
        ticket=ticket, to=TicketStatus.PENDING_CUSTOMER, actor=Actor.staff(agent_make())
    )
    response = shop.client.post(
        ticket_url(reference, "messages/"),
        {"message": "Here is my receipt.", "attachments": [upload("receipt.pdf")]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["author"] == "member"
    assert response.json()["attachments"][0]["filename"] == "receipt.pdf"
    message = TicketMessage.objects.get(pk=response.json()["id"])
    assert (message.kind, message.author_type) == (MessageKind.PUBLIC, MessageAuthor.MEMBER)
    assert Ticket.objects.get(reference=reference).status == TicketStatus.OPEN


def test_a_closed_ticket_refuses_messages(shop, member):
    reference = open_by_api(shop, member)["reference"]
    services.ticket_move(
        ticket=Ticket.objects.get(reference=reference), to=TicketStatus.CLOSED, actor=SYSTEM
    )
    before = rows()
    response = post_json(shop.client, ticket_url(reference, "messages/"), {"message": "Hello?"})
    assert_problem(response, 409, "ticket_closed")
    assert rows() == before


@pytest.mark.parametrize(
    "payload", [{}, {"message": "  "}, {"message": "x" * 10_001}, {"message": None}]
)
def test_a_bad_message_writes_nothing(shop, member, payload):
    reference = open_by_api(shop, member)["reference"]
    before = rows()
    response = post_json(shop.client, ticket_url(reference, "messages/"), payload)
    assert_problem(response, 400, "invalid_input", "message")
    assert rows() == before


# -- CSAT -----------------------------------------------------------------------------------


def test_csat_once_per_resolution(shop, member):
    reference = open_by_api(shop, member)["reference"]
    csat_url = ticket_url(reference, "csat/")
    assert_problem(post_json(shop.client, csat_url, {"score": 5}), 409, "invalid_transition")
    resolve(reference)
    assert shop.client.get(ticket_url(reference)).json()["csat_open"] is True
    response = post_json(shop.client, csat_url, {"score": 4, "comment": "Quick, thanks"})
    assert response.status_code == 201, response.content
    assert response.json()["score"] == 4
    assert_problem(post_json(shop.client, csat_url, {"score": 1}), 409, "csat_already_given")
    rating = CSATResponse.objects.get()
    assert (rating.score, rating.comment, rating.via) == (4, "Quick, thanks", "api")
    detail = shop.client.get(ticket_url(reference)).json()
    assert detail["csat"]["score"] == 4
    assert detail["csat_open"] is False


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"score": 0}, "score"),
        ({"score": 6}, "score"),
        ({"score": "five"}, "score"),
        ({"score": 4.5}, "score"),
        ({}, "score"),
        ({"score": 3, "comment": "x" * 2001}, "comment"),
    ],
)
def test_bad_csat_is_a_400_and_records_nothing(shop, member, payload, attr):
    reference = open_by_api(shop, member)["reference"]
    resolve(reference)
    response = post_json(shop.client, ticket_url(reference, "csat/"), payload)
    assert_problem(response, 400, "invalid_input", attr)
    assert not CSATResponse.objects.exists()


# -- tenancy --------------------------------------------------------------------------------


def test_another_merchants_ticket_is_404_on_every_route(tenant_pair):
    a, b = tenant_pair.a, tenant_pair.b
    for tenant in (a, b):
        program_for(tenant.merchant)
    theirs = member_of(a.merchant)
    member_of(b.merchant)  # b has members of its own
    response = a.client.post(
        URL, {**body(theirs), "attachments": [upload("receipt.pdf")]}, format="multipart"
    )
    assert response.status_code == 201
    reference = response.json()["reference"]
    file_id = response.json()["messages"][0]["attachments"][0]["id"]
    resolve(reference)
    before = rows()

    assert_ticket_not_found(b.client.get(ticket_url(reference)))
    assert_ticket_not_found(b.client.get(ticket_url(reference.lower())))
    assert_ticket_not_found(
        post_json(b.client, ticket_url(reference, "messages/"), {"message": "Hi"})
    )
    assert_ticket_not_found(post_json(b.client, ticket_url(reference, "csat/"), {"score": 1}))
    download = b.client.get(ticket_url(reference, f"attachments/{file_id}/"))
    assert_ticket_not_found(download)
    assert b"%PDF" not in download.content
    assert_not_found(b.client.get(URL, {"member": theirs.external_id}))
    assert_not_found(post_json(b.client, URL, body(theirs)))
    assert rows() == before
    # The owner still sees all of it.
    assert a.client.get(ticket_url(reference)).status_code == 200
    assert a.client.get(ticket_url(reference, f"attachments/{file_id}/")).status_code == 200


def test_a_file_id_of_another_ticket_is_404_under_this_one(shop, member):
    first = shop.client.post(
        URL, {**body(member), "attachments": [upload("a.pdf")]}, format="multipart"
    ).json()
    second = open_by_api(shop, member)
    file_id = first["messages"][0]["attachments"][0]["id"]
    assert_not_found(shop.client.get(ticket_url(second["reference"], f"attachments/{file_id}/")))


def test_the_schema_documents_the_ticket_routes():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    paths = yaml.safe_load(out.getvalue())["paths"]
    for path, method in (
        ("/api/v1/tickets/", "post"),
        ("/api/v1/tickets/", "get"),
        ("/api/v1/tickets/{reference}/", "get"),
        ("/api/v1/tickets/{reference}/messages/", "post"),
        ("/api/v1/tickets/{reference}/csat/", "post"),
        ("/api/v1/tickets/{reference}/attachments/{attachment_id}/", "get"),
        ("/api/v1/program/terms/", "get"),
        ("/api/v1/program/faq/", "get"),
    ):
        assert method in paths[path], path
    content = paths["/api/v1/tickets/"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(content)


def test_a_ticket_opened_by_staff_shows_no_internal_opening_note(shop, member):
    agent = agent_make()
    ticket = ticket_open(member, channel="staff", actor=Actor.staff(agent), body=SECRET_NOTE)
    response = shop.client.get(ticket_url(ticket.reference))
    assert response.status_code == 200
    assert response.json()["messages"] == []
    assert SECRET_NOTE not in response.content.decode()
