"""The SLA job: at risk and breached flags, one priority step per breach, emails to the
assignee and the team leads, and nothing more when it runs again; paused tickets are left
alone, resolved tickets close after their reopen window."""

import datetime
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from core.actors import SYSTEM, Actor
from core.schedules import declared_periodic_tasks
from customercare import escalation, services, tasks
from customercare.models import (
    AgentProfile,
    BusinessCalendar,
    CareNotification,
    CareSettings,
    NotificationKind,
    SLAPolicy,
    SLAState,
    Ticket,
    TicketEvent,
    TicketPriority,
    TicketStatus,
)
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open

pytestmark = pytest.mark.django_db
MINUTE = datetime.timedelta(minutes=1)
# Around the clock (first response, resolution) in minutes; at risk at 75%.
TARGETS = {
    TicketPriority.LOW: (120, 480),
    TicketPriority.NORMAL: (60, 240),
    TicketPriority.HIGH: (30, 120),
    TicketPriority.URGENT: (15, 60),
}


@pytest.fixture(autouse=True)
def default_policies():
    for priority, (first, resolution) in TARGETS.items():
        SLAPolicy.objects.create(
            merchant=None,
            priority=priority,
            first_response_minutes=first,
            resolution_minutes=resolution,
        )


@pytest.fixture
def member():
    return member_of(care_merchant())


def check(ticket: Ticket, minutes: float) -> escalation.SLACheckResult:
    """Run the job as of ``minutes`` after the ticket was opened."""
    return escalation.sla_check(now=ticket.created_at + minutes * MINUTE)


def snapshot() -> tuple:
    """Everything the job may write."""
    return (
        list(
            Ticket.objects.order_by("pk").values_list(
                "status",
                "priority",
                "sla_state",
                "first_response_breached",
                "resolution_breached",
                "escalations",
                "first_response_due_at",
                "resolution_due_at",
                "updated_at",
            )
        ),
        list(TicketEvent.objects.order_by("pk").values_list("pk", flat=True)),
        list(CareNotification.objects.order_by("pk").values_list("key", flat=True)),
    )


def sla_events(ticket: Ticket) -> list[tuple[str, str]]:
    return list(ticket.events.filter(field="sla").values_list("from_value", "to_value"))


def test_a_ticket_on_track_is_left_alone(member):
    agent_make()
    ticket = ticket_open(member)
    before = snapshot()
    result = check(ticket, 44)
    assert (result.checked, result.at_risk, result.breaches, result.notifications) == (1, 0, 0, 0)
    assert snapshot() == before


def test_at_risk_is_flagged_once_and_told_to_the_assignee(member):
    agent = agent_make()
    agent_make(lead=True)
    ticket = ticket_open(member)
    assert ticket.assignee == agent

    result = check(ticket, 46)  # 75% of the 60-minute first response is 45
    ticket.refresh_from_db()
    assert ticket.sla_state == SLAState.AT_RISK
    assert ticket.priority == TicketPriority.NORMAL
    assert sla_events(ticket) == [("on_track", "at_risk")]
    assert "first response due" in ticket.events.get(field="sla").note
    (notification,) = CareNotification.objects.all()
    assert notification.kind == NotificationKind.AT_RISK
    assert notification.to == [agent.email]
    assert (result.at_risk, result.notifications) == (1, 1)

    before = snapshot()
    again = check(ticket, 46)
    assert snapshot() == before
    assert (again.at_risk, again.notifications) == (0, 0)
    check(ticket, 50)
    assert snapshot() == before  # still at risk: nothing new


def test_an_unassigned_ticket_at_risk_is_told_to_the_team_leads(member):
    leads = [agent_make(available=False, lead=True) for _ in range(2)]
    agent_make(available=False)  # an agent who is not a lead
    absent = agent_make(available=False, lead=True)
    absent.is_active = False
    absent.save()
    ticket = ticket_open(member)
    assert ticket.assignee is None

    check(ticket, 46)
    (notification,) = CareNotification.objects.all()
    assert notification.kind == NotificationKind.UNASSIGNED
    assert notification.to == [lead.email for lead in leads]


def test_a_newly_assigned_agent_hears_of_a_ticket_already_at_risk(member):
    lead = agent_make(available=False, lead=True)
    ticket = ticket_open(member)
    check(ticket, 46)
    agent = agent_make(available=False)
    services.ticket_assign(ticket=ticket, assignee=agent, actor=Actor.staff(lead))
    check(ticket, 47)
    assert list(CareNotification.objects.values_list("kind", "to")) == [
        (NotificationKind.UNASSIGNED, [lead.email]),
        (NotificationKind.AT_RISK, [agent.email]),
    ]
    assert sla_events(ticket) == [("on_track", "at_risk")]


def test_a_breach_raises_the_priority_one_step_exactly_once(member):
    agent = agent_make()
    lead = agent_make(available=False, lead=True)
    ticket = ticket_open(member)

    result = check(ticket, 61)
    ticket.refresh_from_db()
    assert ticket.first_response_breached
    assert not ticket.resolution_breached
    assert ticket.priority == TicketPriority.HIGH
    assert ticket.escalations == 1
    assert ticket.sla_state == SLAState.BREACHED
    # The due times now follow the high priority's targets.
    assert ticket.resolution_due_at == ticket.created_at + 120 * MINUTE
    raised = ticket.events.get(field="priority")
    assert (raised.from_value, raised.to_value, raised.source, raised.actor) == (
        "normal",
        "high",
        "system",
        None,
    )
    assert "first response" in raised.note
    (notification,) = CareNotification.objects.all()
    assert notification.kind == NotificationKind.BREACHED
    assert notification.to == [agent.email, lead.email]
    assert (result.breaches, result.escalated) == (1, 1)

    before = snapshot()
    for minutes in (61, 61, 75):
        again = check(ticket, minutes)
        assert (again.breaches, again.escalated, again.notifications) == (0, 0, 0)
    assert snapshot() == before


def test_the_resolution_breach_raises_it_once_more(member):
    agent = agent_make()
    ticket = ticket_open(member)
    check(ticket, 61)  # first response breached: high
    services.ticket_reply(ticket=ticket, body="On it.", internal=False, actor=Actor.staff(agent))
    check(ticket, 62)
    ticket.refresh_from_db()
    # The first response was given: only the resolution (at 120 as high) is pending.
    assert ticket.sla_state == SLAState.ON_TRACK
    assert ticket.first_response_breached

    check(ticket, 91)  # 75% of 120
    check(ticket, 121)
    ticket.refresh_from_db()
    assert ticket.resolution_breached
    assert ticket.priority == TicketPriority.URGENT
    assert ticket.escalations == 2
    assert sla_events(ticket) == [
        ("on_track", "breached"),
        ("breached", "on_track"),
        ("on_track", "at_risk"),
        ("at_risk", "breached"),
    ]
    assert list(
        CareNotification.objects.filter(kind__in=["breached", "at_risk"]).values_list(
            "key", flat=True
        )
    ) == [
        f"breached:{ticket.pk}:first_response:0",
        f"at_risk:{ticket.pk}:resolution:0:{agent.pk}",
        f"breached:{ticket.pk}:resolution:0",
    ]
    before = snapshot()
    check(ticket, 121)
    assert snapshot() == before


def test_a_long_overdue_ticket_is_judged_again_at_its_new_priority_in_the_same_run(member):
    ticket = ticket_open(member)
    # 150 minutes: the first response (60) is late; as high, so is the resolution (120).
    result = check(ticket, 150)
    ticket.refresh_from_db()
    assert ticket.first_response_breached
    assert ticket.resolution_breached
    assert ticket.priority == TicketPriority.URGENT
    assert list(ticket.events.filter(field="priority").values_list("to_value", flat=True)) == [
        "high",
        "urgent",
    ]
    assert (result.breaches, result.escalated) == (2, 2)
    before = snapshot()
    assert check(ticket, 150).escalated == 0
    assert snapshot() == before


def test_an_urgent_ticket_stays_urgent_but_is_still_flagged_and_told(member):
    agent = agent_make()
    ticket = ticket_open(member, priority=TicketPriority.URGENT)
    result = check(ticket, 16)
    ticket.refresh_from_db()
    assert ticket.priority == TicketPriority.URGENT
    assert ticket.first_response_breached
    assert not ticket.events.filter(field="priority").exists()
    assert result.escalated == 0
    assert list(CareNotification.objects.values_list("kind", "to")) == [
        (NotificationKind.BREACHED, [agent.email])
    ]


@pytest.mark.parametrize(
    "status", [TicketStatus.PENDING_CUSTOMER, TicketStatus.PENDING_FULFILLMENT]
)
def test_a_paused_ticket_is_untouched(member, status):
    agent = agent_make(lead=True)
    ticket = ticket_open(member)
    services.ticket_move(ticket=ticket, to=status, actor=Actor.staff(agent))
    before = snapshot()
    result = check(ticket, 10 * 24 * 60)
    assert result.checked == 0
    assert snapshot() == before
    ticket.refresh_from_db()
    assert (ticket.sla_state, ticket.priority) == (SLAState.ON_TRACK, TicketPriority.NORMAL)


def test_due_times_follow_the_policy_in_force(member):
    ticket = ticket_open(member)
    SLAPolicy.objects.filter(merchant=None, priority="normal").update(
        first_response_minutes=20, resolution_minutes=100
    )
    result = check(ticket, 10)
    ticket.refresh_from_db()
    assert result.due_times_updated == 1
    assert ticket.first_response_due_at == ticket.created_at + 20 * MINUTE
    assert ticket.resolution_due_at == ticket.created_at + 100 * MINUTE
    assert check(ticket, 10).due_times_updated == 0


def test_a_calendar_that_never_opens_neither_breaks_the_run_nor_breaches(member):
    merchant = member.merchant
    stuck = ticket_open(member)
    fine = ticket_open(member_of(care_merchant()))
    # A policy on a calendar with no working day (a bad import): its targets are never
    # reached, so the ticket falls due at the horizon; the other merchant's is checked.
    closed = BusinessCalendar.objects.create(name="Never open", weekdays="")
    SLAPolicy.objects.create(
        merchant=merchant,
        priority="normal",
        first_response_minutes=60,
        resolution_minutes=240,
        calendar=closed,
    )
    result = escalation.sla_check(now=fine.created_at + 61 * MINUTE)
    assert (result.checked, result.errors, result.breaches) == (2, 0, 1)
    fine.refresh_from_db()
    stuck.refresh_from_db()
    assert fine.first_response_breached
    assert (stuck.first_response_breached, stuck.sla_state) == (False, SLAState.ON_TRACK)
    assert stuck.resolution_due_at > stuck.created_at + datetime.timedelta(days=3000)


def test_many_tickets_are_checked_in_batches(member):
    tickets = [ticket_open(member) for _ in range(7)]
    result = escalation.sla_check(now=tickets[-1].created_at + 46 * MINUTE, batch_size=3)
    assert result.checked == 7
    assert Ticket.objects.filter(sla_state=SLAState.AT_RISK).count() == 7


# -- the reopen window ------------------------------------------------------------------


def resolved_days_ago(member, days: float) -> Ticket:
    ticket = services.ticket_move(
        ticket=ticket_open(member), to=TicketStatus.RESOLVED, actor=SYSTEM
    )
    Ticket.objects.filter(pk=ticket.pk).update(
        resolved_at=timezone.now() - datetime.timedelta(days=days)
    )
    return ticket


def test_resolved_tickets_close_once_their_reopen_window_has_passed(member):
    other = member_of(care_merchant())
    CareSettings.objects.create(merchant=other.merchant, reopen_window_days=2)
    old = resolved_days_ago(member, 7.1)  # the default window is 7 days
    recent = resolved_days_ago(member, 6.9)
    short_window = resolved_days_ago(other, 2.1)
    still_open = ticket_open(member)

    result = escalation.sla_check(now=timezone.now())
    statuses = dict(Ticket.objects.values_list("pk", "status"))
    assert statuses[old.pk] == TicketStatus.CLOSED
    assert statuses[short_window.pk] == TicketStatus.CLOSED
    assert statuses[recent.pk] == TicketStatus.RESOLVED
    assert statuses[still_open.pk] == TicketStatus.NEW
    assert result.closed == 2
    closing = old.events.get(field="status", to_value="closed")
    assert (closing.from_value, closing.source) == ("resolved", "system")
    assert "7 day" in closing.note
    assert Ticket.objects.get(pk=old.pk).closed_at is not None

    before = snapshot()
    assert escalation.sla_check(now=timezone.now()).closed == 0
    assert snapshot() == before


# -- emails, the task, the command, the schedule -----------------------------------------


def test_emails_are_sent_by_the_task_after_the_commit(
    member, django_capture_on_commit_callbacks, mailoutbox
):
    agent = agent_make()
    lead = agent_make(available=False, lead=True)
    ticket = ticket_open(member)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        check(ticket, 61)
        assert mailoutbox == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    (email,) = mailoutbox
    assert email.to == [agent.email, lead.email]
    assert email.subject == f"[SLA breached] {ticket.reference}: {ticket.subject}"
    assert "first response" in email.body
    assert "High" in email.body
    assert f"/admin/customercare/ticket/{ticket.pk}/change/" in email.body
    assert member.merchant.name in email.body
    assert CareNotification.objects.get().sent_at is not None

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        check(ticket, 61)
    assert callbacks == []
    assert len(mailoutbox) == 1


def test_the_scheduled_task_checks_as_of_now(member, django_capture_on_commit_callbacks):
    ticket = ticket_open(member)
    Ticket.objects.filter(pk=ticket.pk).update(created_at=timezone.now() - 61 * MINUTE)
    with django_capture_on_commit_callbacks(execute=True):
        summary = tasks.sla_check.delay().get()["summary"]
    ticket.refresh_from_db()
    assert ticket.first_response_breached
    assert ticket.priority == TicketPriority.HIGH
    assert "1 breach(es)" in summary


def test_the_command_runs_the_job_by_hand_as_of_a_given_time(member, capsys):
    ticket = ticket_open(member)
    at = (ticket.created_at + 46 * MINUTE).isoformat()
    call_command("sla_check", "--now", at, "--merchant", member.merchant.slug)
    assert "1 newly at risk" in capsys.readouterr().out
    assert Ticket.objects.get(pk=ticket.pk).sla_state == SLAState.AT_RISK


def test_the_job_is_scheduled_every_five_minutes():
    (spec,) = [s for s in declared_periodic_tasks() if s["task"] == "customercare.sla_check"]
    assert spec["crontab"] == "*/5 * * * *"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_ticket_another_transaction_holds_is_skipped_and_seen_next_time(member):
    ticket = ticket_open(member)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Ticket.objects.select_for_update().get(pk=ticket.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        result = check(ticket, 61)
        assert result.checked == 0
        assert not Ticket.objects.get(pk=ticket.pk).first_response_breached
    finally:
        release.set()
        holder.join(timeout=30)
    assert check(ticket, 61).breaches == 1
    assert Ticket.objects.get(pk=ticket.pk).priority == TicketPriority.HIGH


def test_team_lead_flag_is_what_makes_a_lead(member):
    agent = agent_make(available=False)
    ticket = ticket_open(member)
    check(ticket, 46)
    assert not CareNotification.objects.exists()  # nobody to tell: no lead yet
    AgentProfile.objects.filter(user=agent).update(is_team_lead=True)
    check(ticket, 47)
    assert list(CareNotification.objects.values_list("to", flat=True)) == [[agent.email]]
