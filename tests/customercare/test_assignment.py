"""Who works a ticket: round robin among the available agents of the Customer care group
under their cap (fair over many tickets, and under concurrent opens), manual assignment
and "take it"."""

import datetime
import threading
from collections import Counter

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from core.actors import SYSTEM, Actor
from core.staff_groups import staff_groups_sync
from customercare import services
from customercare.assignment import assign_round_robin
from customercare.exceptions import InvalidTicketInput
from customercare.models import AgentProfile, Ticket, TicketChannel, TicketStatus
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open
from tests.merchants.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return member_of(care_merchant())


def assignees(tickets) -> list:
    return [Ticket.objects.get(pk=ticket.pk).assignee for ticket in tickets]


def test_round_robin_shares_many_tickets_evenly_and_in_turn(member):
    agents = [agent_make() for _ in range(3)]
    tickets = [ticket_open(member) for _ in range(30)]
    order = assignees(tickets)
    assert Counter(order) == {agent: 10 for agent in agents}
    # Each agent gets the next ticket only after the other two got one.
    for start in range(0, 30, 3):
        assert set(order[start : start + 3]) == set(agents)
    event = tickets[0].events.get(field="assignee")
    assert (event.from_value, event.source, event.note) == ("", "system", "round robin")


def test_an_agent_joining_later_gets_the_next_ticket_then_takes_turns(member):
    first, second = agent_make(), agent_make()
    for _ in range(4):
        ticket_open(member)
    late = agent_make()
    order = assignees([ticket_open(member) for _ in range(6)])
    assert order[0] == late
    assert Counter(order) == {first: 2, second: 2, late: 2}


def test_agents_at_their_cap_are_skipped_until_a_ticket_is_resolved(member):
    small = agent_make(cap=1)
    big = agent_make(cap=3)
    tickets = [ticket_open(member) for _ in range(4)]
    assert Counter(assignees(tickets)) == {small: 1, big: 3}

    full = ticket_open(member)
    assert full.assignee is None
    assert not full.events.filter(field="assignee").exists()

    (mine,) = [t for t in tickets if Ticket.objects.get(pk=t.pk).assignee == small]
    services.ticket_move(ticket=mine, to=TicketStatus.RESOLVED, actor=Actor.staff(small))
    assert ticket_open(member).assignee == small


def test_only_available_active_staff_of_the_care_group_get_tickets(member):
    agent = agent_make()
    agent_make(available=False)
    staff_groups_sync()
    outsider = StaffFactory()  # staff, available, but not in the Customer care group
    AgentProfile.objects.create(user=outsider, is_available=True)
    gone = agent_make()
    gone.is_active = False
    gone.save()
    not_staff = UserFactory()
    not_staff.groups.add(Group.objects.get(name="Customer care"))
    AgentProfile.objects.create(user=not_staff, is_available=True)

    assert set(assignees([ticket_open(member) for _ in range(5)])) == {agent}


def test_with_nobody_free_the_ticket_waits_unassigned(member):
    agent_make(available=False)
    agent_make(cap=0)
    ticket = ticket_open(member)
    assert ticket.assignee is None
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_two_assignments_in_the_same_instant_still_take_turns(member):
    """Round robin orders agents by when they were last given a ticket: a caller whose
    clock is behind (or two tickets in the same instant) must not give the same agent
    two tickets in a row."""
    nobody = [ticket_open(member) for _ in range(4)]  # opened while no agent is free
    first, second = agent_make(), agent_make()
    now = timezone.now()
    with transaction.atomic():
        chosen = [
            assign_round_robin(ticket=nobody[0], now=now),
            assign_round_robin(ticket=nobody[1], now=now),
            assign_round_robin(ticket=nobody[2], now=now - datetime.timedelta(seconds=5)),
            assign_round_robin(ticket=nobody[3], now=now),
        ]
    assert chosen == [first, second, first, second]


def test_an_agent_can_take_a_ticket_and_staff_can_assign_it(member):
    lead = agent_make(available=False)
    agent = agent_make(available=False)
    ticket = ticket_open(member)
    services.ticket_take(ticket=ticket, actor=Actor.staff(agent))
    assert Ticket.objects.get(pk=ticket.pk).assignee == agent
    services.ticket_assign(ticket=ticket, assignee=lead, actor=Actor.staff(lead))
    services.ticket_assign(ticket=ticket, assignee=None, actor=Actor.staff(lead))
    assert Ticket.objects.get(pk=ticket.pk).assignee is None
    assert list(
        ticket.events.filter(field="assignee").values_list("from_value", "to_value", "actor")
    ) == [
        ("", agent.username, agent.pk),
        (agent.username, lead.username, lead.pk),
        (lead.username, "", lead.pk),
    ]


def test_only_care_agents_can_be_given_a_ticket(member):
    ticket = ticket_open(member)
    staff_groups_sync()
    for user in (StaffFactory(), UserFactory()):
        with pytest.raises(InvalidTicketInput) as error:
            services.ticket_assign(ticket=ticket, assignee=user, actor=SYSTEM)
        assert error.value.field == "assignee"
        with pytest.raises(InvalidTicketInput):
            services.ticket_take(ticket=ticket, actor=Actor.staff(user))
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_an_agent_opening_a_ticket_keeps_it(member):
    agent_make()
    opener = agent_make(available=False)
    ticket = ticket_open(member, channel=TicketChannel.STAFF, actor=Actor.staff(opener))
    assert ticket.assignee == opener


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_tickets_opened_at_once_go_to_different_agents():
    member = member_of(care_merchant())
    agents = [agent_make() for _ in range(4)]
    barrier = threading.Barrier(len(agents))
    opened: list = [None] * len(agents)

    def open_one(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            opened[i] = ticket_open(member, subject=f"At once {i}")
        except Exception as error:
            opened[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(len(agents))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert all(isinstance(ticket, Ticket) for ticket in opened), opened
    assert sorted(a.pk for a in assignees(opened)) == sorted(a.pk for a in agents)
