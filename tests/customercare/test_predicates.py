"""The rules the ticket services expose as predicates, each with both answers: the member
page, the admin and goodwill ask these instead of restating them, and the services refuse
by the same ones."""

import datetime
import itertools

import pytest
from django.utils import timezone

from core.actors import Actor
from core.exceptions import InvalidTransition
from customercare import selectors, services
from customercare.exceptions import TicketClosed
from customercare.models import CareSettings, Ticket, TicketStatus
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open

pytestmark = pytest.mark.django_db
S = TicketStatus


@pytest.fixture
def member():
    return member_of(care_merchant())


def resolved(ticket: Ticket, *, days_ago: int) -> Ticket:
    services.ticket_move(ticket=ticket, to=S.RESOLVED, actor=Actor.staff(agent_make()))
    Ticket.objects.filter(pk=ticket.pk).update(
        resolved_at=timezone.now() - datetime.timedelta(days=days_ago)
    )
    return Ticket.objects.select_related("merchant").get(pk=ticket.pk)


def test_an_open_ticket_is_open_and_a_closed_or_merged_one_is_not(member):
    ticket = ticket_open(member)
    assert services.ticket_is_open(ticket=ticket)
    merged = ticket_open(member)
    services.ticket_merge(ticket=merged, into=ticket, actor=Actor.staff(agent_make()))
    merged.refresh_from_db()
    assert not services.ticket_is_open(ticket=merged)
    services.ticket_move(ticket=ticket, to=S.CLOSED, actor=Actor.staff(agent_make()))
    ticket.refresh_from_db()
    assert not services.ticket_is_open(ticket=ticket)


def test_the_member_can_reply_while_open_and_within_the_reopen_window(member):
    CareSettings.objects.create(merchant=member.merchant, reopen_window_days=2)
    assert services.ticket_member_can_reply(ticket=ticket_open(member))
    ticket = resolved(ticket_open(member), days_ago=1)
    assert services.ticket_member_can_reply(ticket=ticket)
    services.ticket_member_message(ticket=ticket, body="Still missing!", actor=Actor.member())
    assert Ticket.objects.get(pk=ticket.pk).status == S.OPEN


def test_the_member_cannot_reply_past_the_window_and_the_service_refuses_alike(member):
    CareSettings.objects.create(merchant=member.merchant, reopen_window_days=2)
    ticket = resolved(ticket_open(member), days_ago=3)
    assert not services.ticket_member_can_reply(ticket=ticket)
    with pytest.raises(TicketClosed):
        services.ticket_member_message(ticket=ticket, body="Hello?", actor=Actor.member())
    closed = ticket_open(member)
    services.ticket_move(ticket=closed, to=S.CLOSED, actor=Actor.staff(agent_make()))
    closed.refresh_from_db()
    assert not services.ticket_member_can_reply(ticket=closed)
    with pytest.raises(TicketClosed):
        services.ticket_member_message(ticket=closed, body="Hello?", actor=Actor.member())


def test_a_ticket_not_merged_is_its_own_merge_destination(member):
    ticket = ticket_open(member)
    assert services.ticket_merge_destination(ticket=ticket) == ticket
    assert services.ticket_merge_destination(ticket=ticket, lock=True) == ticket


def test_the_merge_destination_follows_merges_of_merges(member):
    agent = agent_make()
    first, second, third = (ticket_open(member) for _ in range(3))
    services.ticket_merge(ticket=first, into=second, actor=Actor.staff(agent))
    services.ticket_merge(ticket=second, into=third, actor=Actor.staff(agent))
    first.refresh_from_db()
    assert services.ticket_merge_destination(ticket=first) == third
    services.ticket_member_message(ticket=first, body="Any news?", actor=Actor.member())
    assert third.messages.filter(body="Any news?").exists()


def test_a_merge_chain_longer_than_the_limit_is_not_followed(member):
    agent = agent_make()
    chain = [ticket_open(member) for _ in range(services.MAX_MERGE_HOPS + 2)]
    for ticket, into in itertools.pairwise(chain):
        services.ticket_merge(ticket=ticket, into=into, actor=Actor.staff(agent))
    start = Ticket.objects.get(pk=chain[0].pk)
    stopped = services.ticket_merge_destination(ticket=start)
    assert stopped.pk == chain[services.MAX_MERGE_HOPS].pk
    assert stopped.status == S.MERGED
    assert not services.ticket_member_can_reply(ticket=stopped)
    with pytest.raises(TicketClosed):
        services.ticket_member_message(ticket=start, body="Hello?", actor=Actor.member())


def test_only_a_resolved_ticket_may_be_rated_and_csat_record_refuses_by_the_same_rule(member):
    ticket = ticket_open(member)
    assert not selectors.ticket_may_be_rated(ticket=ticket)
    with pytest.raises(InvalidTransition):
        services.csat_record(ticket=ticket, score=5, comment="", via="link")
    ticket = resolved(ticket, days_ago=0)
    assert selectors.ticket_may_be_rated(ticket=ticket)
    assert selectors.csat_open(ticket)
    services.csat_record(ticket=ticket, score=5, comment="", via="link")
    assert selectors.ticket_may_be_rated(ticket=ticket)
    assert not selectors.csat_open(ticket)
