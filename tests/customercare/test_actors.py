"""Who a ticket's events and messages say acted: the store's key for what came through the
API, nobody but the member on their ticket page, the agent in the admin."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from core.actors import Actor
from customercare import services
from customercare.links import ticket_token
from customercare.models import MessageAuthor, Ticket, TicketEvent, TicketMessage, TicketStatus
from tests.conftest import make_tenant
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open
from tests.loyalty.apihelpers import post_json

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"


@pytest.fixture
def shop():
    return make_tenant(care_merchant())


def open_by_api(shop) -> Ticket:
    member = member_of(shop.merchant, 500)
    body = {
        "member": member.external_id,
        "category": "other",
        "subject": "Question about my points",
        "message": "How long until my points are available?",
    }
    response = post_json(shop.client, URL, body)
    assert response.status_code == 201, response.content
    return Ticket.objects.get(reference=response.json()["reference"])


def test_a_ticket_opened_through_the_api_records_the_key_on_its_event_and_message(shop):
    ticket = open_by_api(shop)
    label = f"API key {shop.api_key.prefix}"

    opened = ticket.events.get(field="status", to_value=TicketStatus.NEW)
    assert (opened.actor_id, opened.api_key_id, opened.source) == (None, shop.api_key.pk, "api")
    assert opened.who == label
    (message,) = TicketMessage.objects.filter(ticket=ticket)
    assert (message.author_type, message.author_id, message.api_key_id) == (
        MessageAuthor.MEMBER,
        None,
        shop.api_key.pk,
    )
    assert message.who == f"member via {label}"


def test_a_member_message_records_the_key_through_the_api_and_no_key_on_the_page(shop):
    ticket = open_by_api(shop)
    services.ticket_move(ticket=ticket, to=TicketStatus.PENDING_CUSTOMER, actor=Actor.system())
    sent = post_json(shop.client, f"{URL}{ticket.reference}/messages/", {"message": "Any news?"})
    assert sent.status_code == 201, sent.content
    by_api = TicketMessage.objects.filter(ticket=ticket).latest("id")
    reopened = ticket.events.filter(field="status", to_value=TicketStatus.OPEN).latest("id")
    assert (by_api.api_key_id, reopened.api_key_id, reopened.source) == (
        shop.api_key.pk,
        shop.api_key.pk,
        "member",
    )

    services.ticket_move(ticket=ticket, to=TicketStatus.PENDING_CUSTOMER, actor=Actor.system())
    page = reverse("care:ticket", kwargs={"token": ticket_token(ticket)})
    client = Client(enforce_csrf_checks=True)
    (csrf,) = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(page).text))
    assert client.post(page, {"csrfmiddlewaretoken": csrf, "message": "Still?"}).status_code == 303
    on_page = TicketMessage.objects.filter(ticket=ticket).latest("id")
    reopened = ticket.events.filter(field="status", to_value=TicketStatus.OPEN).latest("id")
    assert (on_page.body, on_page.author_id, on_page.api_key_id) == ("Still?", None, None)
    assert (reopened.actor_id, reopened.api_key_id, reopened.who) == (None, None, "member")


def test_the_admin_timeline_shows_the_key_and_the_agent(client, shop):
    ticket = open_by_api(shop)
    agent = agent_make(username="care-cleo")
    client.force_login(agent)
    services.ticket_take(ticket=ticket, actor=Actor.staff(agent))

    taken = ticket.events.get(field="assignee", to_value="care-cleo")
    assert (taken.actor_id, taken.api_key_id, taken.source) == (agent.pk, None, "staff")
    page = client.get(reverse("admin:customercare_ticket_change", args=[ticket.pk]))
    content = page.content.decode()
    assert f"<td>API key {shop.api_key.prefix}</td>" in content
    assert "<td>care-cleo</td>" in content
    assert f"by member via API key {shop.api_key.prefix}," in content


def test_a_job_leaves_no_user_nor_key_and_its_source_says_system():
    ticket = ticket_open(member_of(care_merchant()), actor=Actor.system("sla_check"))
    services.ticket_set_priority(ticket=ticket, priority="high", actor=Actor.system("sla_check"))
    event = TicketEvent.objects.get(ticket=ticket, field="priority")
    assert (event.actor_id, event.api_key_id, event.source, event.who) == (
        None,
        None,
        "system",
        "system",
    )
