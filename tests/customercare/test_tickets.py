"""Tickets through their services: opening with the member's snapshot, the status flow
(legal and illegal moves, compare-and-swap, history), member replies and the reopen
window, merges, and the database's last line of defence."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from core.actors import SYSTEM, Actor
from core.exceptions import InvalidTransition
from customercare import services
from customercare.exceptions import InvalidTicketInput, TicketClosed
from customercare.models import (
    TICKET_TRANSITIONS,
    BusinessCalendar,
    CareSettings,
    MessageAuthor,
    MessageKind,
    SLAPolicy,
    Ticket,
    TicketEvent,
    TicketMessage,
    TicketStatus,
)
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open

pytestmark = pytest.mark.django_db
S = TicketStatus


@pytest.fixture
def member():
    return member_of(care_merchant(), 1200)


def test_open_snapshots_the_member_and_starts_new_with_the_members_message(member):
    ticket = ticket_open(member, subject="  Lost my reward ")
    assert ticket.status == S.NEW
    assert ticket.subject == "Lost my reward"
    assert ticket.balance_at_open == 1200
    assert ticket.reference.startswith("T-")
    assert len(ticket.reference) == 14
    (message,) = ticket.messages.all()
    assert (message.kind, message.author_type) == (MessageKind.PUBLIC, MessageAuthor.MEMBER)
    assert ticket.first_response_due_at
    assert ticket.resolution_due_at
    assert ticket.first_response_due_at <= ticket.resolution_due_at
    assert list(ticket.events.values_list("field", "to_value")) == [("status", "new")]


def test_references_are_unguessable_not_sequential(member):
    refs = {ticket_open(member).reference for _ in range(20)}
    assert len(refs) == 20
    assert not any(ref[2:].isdigit() for ref in refs)


@pytest.mark.parametrize(
    ("field", "data"),
    [
        ("category", {"category": "refund_please"}),
        ("subject", {"subject": "   "}),
        ("message", {"body": "x" * 10_001}),
        ("order", {"category": "missing_points"}),
        ("priority", {"priority": "asap"}),
    ],
)
def test_bad_input_opens_nothing(member, field, data):
    with pytest.raises(InvalidTicketInput) as error:
        ticket_open(member, **data)
    assert error.value.field == field
    assert not Ticket.objects.exists()


def walk(ticket: Ticket, *statuses: str, actor: Actor = SYSTEM) -> Ticket:
    for status in statuses:
        ticket = services.ticket_move(ticket=ticket, to=status, actor=actor)
    return ticket


def test_every_legal_move_is_allowed_and_recorded(member):
    agent = agent_make()
    for old, targets in TICKET_TRANSITIONS.items():
        for new in targets - {S.MERGED}:
            ticket = ticket_open(member)
            path = {
                S.NEW: [],
                S.OPEN: [S.OPEN],
                S.PENDING_CUSTOMER: [S.PENDING_CUSTOMER],
                S.PENDING_FULFILLMENT: [S.PENDING_FULFILLMENT],
                S.RESOLVED: [S.RESOLVED],
            }[old]
            ticket = walk(ticket, *path, new, actor=Actor.staff(agent))
            assert Ticket.objects.get(pk=ticket.pk).status == new
            last = ticket.events.filter(field="status").last()
            assert (last.from_value, last.to_value, last.actor) == (old, new, agent)


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([S.RESOLVED, S.CLOSED], S.OPEN),
        ([S.RESOLVED], S.PENDING_CUSTOMER),
        ([S.OPEN], S.NEW),
        ([S.CLOSED], S.RESOLVED),
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(member, path, illegal):
    ticket = walk(ticket_open(member), *path)
    events = TicketEvent.objects.count()
    with pytest.raises(InvalidTransition):
        services.ticket_move(ticket=ticket, to=illegal, actor=SYSTEM)
    assert Ticket.objects.get(pk=ticket.pk).status == path[-1]
    assert TicketEvent.objects.count() == events


def test_merged_is_not_a_status_staff_can_set_by_hand(member):
    ticket = ticket_open(member)
    with pytest.raises(InvalidTicketInput):
        services.ticket_move(ticket=ticket, to=S.MERGED, actor=SYSTEM)


def test_a_stale_copy_cannot_move_the_ticket_twice(member):
    ticket = ticket_open(member)
    stale = Ticket.objects.get(pk=ticket.pk)
    services.ticket_move(ticket=ticket, to=S.OPEN, actor=SYSTEM)
    services.ticket_move(ticket=stale, to=S.RESOLVED, actor=SYSTEM)  # reloads under the lock
    assert list(ticket.events.filter(field="status").values_list("to_value", flat=True)) == [
        "new",
        "open",
        "resolved",
    ]


def test_first_public_reply_is_the_first_response_and_opens_a_new_ticket(member):
    agent = agent_make()
    ticket = ticket_open(member)
    services.ticket_reply(
        ticket=ticket, body="Looking into it", internal=True, actor=Actor.staff(agent)
    )
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None
    assert ticket.status == S.NEW
    services.ticket_reply(ticket=ticket, body="Found it", internal=False, actor=Actor.staff(agent))
    ticket.refresh_from_db()
    assert ticket.first_responded_at is not None
    assert ticket.status == S.OPEN


def test_member_reply_reopens_within_the_window_and_not_after(member):
    agent = agent_make()
    ticket = ticket_open(member)
    services.ticket_reply(
        ticket=ticket, body="Credited.", internal=False, actor=Actor.staff(agent), then=S.RESOLVED
    )
    services.ticket_member_message(ticket=ticket, body="Still missing!", actor=Actor.member())
    ticket.refresh_from_db()
    assert ticket.status == S.OPEN
    assert ticket.events.filter(field="status", to_value="open", source="member").exists()

    services.ticket_move(ticket=ticket, to=S.RESOLVED, actor=Actor.staff(agent))
    CareSettings.objects.create(merchant=member.merchant, reopen_window_days=2)
    Ticket.objects.filter(pk=ticket.pk).update(
        resolved_at=timezone.now() - datetime.timedelta(days=3)
    )
    messages = TicketMessage.objects.count()
    with pytest.raises(TicketClosed):
        services.ticket_member_message(ticket=ticket, body="Hello?", actor=Actor.member())
    assert TicketMessage.objects.count() == messages
    assert Ticket.objects.get(pk=ticket.pk).status == S.RESOLVED


def test_merge_moves_the_thread_and_closes_the_other_as_merged(member):
    agent = agent_make()
    first = ticket_open(member, body="one")
    second = ticket_open(member, body="two")
    services.ticket_merge(ticket=second, into=first, actor=Actor.staff(agent))
    second.refresh_from_db()
    assert second.status == S.MERGED
    assert second.merged_into == first
    assert not second.messages.exists()
    bodies = list(first.messages.values_list("body", flat=True))
    assert bodies[:2] == ["one", "two"]
    assert second.reference in bodies[2]
    # A member writing on the merged ticket writes on the one it went into.
    services.ticket_member_message(ticket=second, body="three", actor=Actor.member())
    assert first.messages.filter(body="three").exists()


def test_merge_refuses_another_members_ticket(member):
    other = member_of(member.merchant)
    with pytest.raises(InvalidTicketInput):
        services.ticket_merge(ticket=ticket_open(other), into=ticket_open(member), actor=SYSTEM)
    assert not Ticket.objects.filter(status=S.MERGED).exists()


def test_database_refuses_a_member_internal_note_and_a_merged_ticket_without_target(member):
    ticket = ticket_open(member)
    with pytest.raises(IntegrityError):
        TicketMessage.objects.filter(ticket=ticket).update(kind=MessageKind.INTERNAL)


def test_database_refuses_merged_status_without_a_target(member):
    ticket = ticket_open(member)
    with pytest.raises(IntegrityError):
        Ticket.objects.filter(pk=ticket.pk).update(status=S.MERGED)


def test_a_late_first_response_and_a_late_resolution_count_as_breaches(member):
    agent = agent_make()
    ticket = ticket_open(member)
    Ticket.objects.filter(pk=ticket.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=10)
    )
    services.ticket_reply(
        ticket=ticket, body="Sorry", internal=False, actor=Actor.staff(agent), then=S.RESOLVED
    )
    ticket.refresh_from_db()
    assert ticket.first_response_breached
    assert ticket.resolution_breached
    assert ticket.sla_state == "breached"


def test_a_ticket_resolved_in_time_is_met(member):
    agent = agent_make()
    ticket = ticket_open(member)
    services.ticket_reply(
        ticket=ticket, body="Done", internal=False, actor=Actor.staff(agent), then=S.RESOLVED
    )
    ticket.refresh_from_db()
    assert (ticket.sla_state, ticket.first_response_breached) == ("met", False)


def test_time_waiting_on_the_member_is_not_counted_when_the_ticket_is_resolved(member):
    agent = agent_make()
    ticket = ticket_open(member)
    services.ticket_reply(
        ticket=ticket,
        body="Which order?",
        internal=False,
        actor=Actor.staff(agent),
        then=S.PENDING_CUSTOMER,
    )
    # It waited on the member for five days, far past the 3-day resolution target.
    long_ago = timezone.now() - datetime.timedelta(days=5)
    Ticket.objects.filter(pk=ticket.pk).update(created_at=long_ago, paused_since=long_ago)
    services.ticket_move(ticket=ticket, to=S.RESOLVED, actor=Actor.staff(agent))
    ticket.refresh_from_db()
    assert not ticket.resolution_breached
    assert ticket.sla_state == "met"


def test_a_first_response_target_is_not_moved_by_a_later_priority_change(member):
    agent = agent_make()
    ticket = ticket_open(member)
    services.ticket_reply(ticket=ticket, body="On it", internal=False, actor=Actor.staff(agent))
    ticket.refresh_from_db()
    due = ticket.first_response_due_at
    services.ticket_set_priority(ticket=ticket, priority="urgent", actor=Actor.staff(agent))
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == due
    assert ticket.resolution_due_at < due + datetime.timedelta(days=3)


def test_a_calendar_that_cannot_reach_a_target_still_opens_tickets(member):
    rarely = BusinessCalendar.objects.create(
        name="One minute a week", weekdays="6", opens_at="09:00", closes_at="09:01"
    )
    policy = SLAPolicy(
        merchant=member.merchant,
        priority="normal",
        first_response_minutes=60,
        resolution_minutes=3 * 24 * 60,
        calendar=rarely,
    )
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert "resolution_minutes" in refused.value.message_dict
    policy.save()  # as a bad import would, bypassing the form
    ticket = ticket_open(member)
    assert ticket.resolution_due_at > timezone.now() + datetime.timedelta(days=3000)
