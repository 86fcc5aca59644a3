"""The SLA job: flags tickets at risk and breached, escalates breaches and closes resolved
tickets whose reopen window has passed. Run every few minutes by beat
(``customercare.sla_check``) or by hand (``manage.py sla_check``).

Only unresolved tickets whose clock runs (new or open, not paused) are checked; a paused
ticket's due times move when its pause ends (``services._move``), not here. For each one
the job brings its due times in line with the policy in force, then:

- a target whose due time has passed (the first response only while none was given) is
  breached: its flag is set, once, and the priority goes up one step through
  ``services.ticket_set_priority``. A higher priority has shorter targets, so the other
  target may be breached by the same step; it is judged again at the new priority, which
  is what makes a second run at the same moment find nothing to do. Each flag raises
  the priority at most once.
- ``sla_state`` is breached while a flagged target is still pending, at risk once
  ``at_risk_percent`` of a pending target is used, on track otherwise; a change writes a
  ``TicketEvent`` (field ``sla``).
- emails are ``CareNotification`` rows with keys made of the ticket, the target and the
  resolution count (and the assignee, for at risk), so writing one again is a no-op: at
  risk goes to the assignee, or to the team leads when there is none (kind unassigned);
  a breach goes to the assignee and the team leads.

Tickets are claimed in id order in batches, each batch one transaction; on PostgreSQL
rows another transaction holds (an agent replying) are skipped and seen by the next run.
A ticket that fails is logged and left as it was (its savepoint rolls back); the others
go on.
"""

import dataclasses
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet

from core.actors import Actor
from customercare import locks, selectors, services, sla
from customercare.models import (
    NotificationKind,
    SLAState,
    Ticket,
    TicketEvent,
    TicketEventField,
    TicketStatus,
)
from customercare.notifications import notification_queue
from merchants.models import Merchant

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 200
# Who escalates and closes tickets here: the job, by its command's name.
SLA_CHECK = Actor.system("sla_check")
# The statuses in which the SLA clock runs.
RUNNING_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN)
FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
TARGET_LABELS = {FIRST_RESPONSE: "first response", RESOLUTION: "resolution"}


@dataclass
class SLACheckResult:
    checked: int = 0
    due_times_updated: int = 0
    at_risk: int = 0
    breaches: int = 0
    escalated: int = 0
    notifications: int = 0
    closed: int = 0
    errors: int = 0

    def __str__(self) -> str:
        return (
            f"{self.checked} ticket(s) checked, {self.due_times_updated} due time(s) updated, "
            f"{self.at_risk} newly at risk, {self.breaches} breach(es), "
            f"{self.escalated} priority raise(s), {self.notifications} email(s) queued, "
            f"{self.closed} closed, {self.errors} error(s)"
        )


@dataclass
class _Run:
    """What one run looks up once: targets by merchant and priority, the team leads."""

    now: datetime.datetime
    result: SLACheckResult
    _targets: dict[tuple[int, str], sla.Targets] = field(default_factory=dict)
    _leads: list[str] | None = None

    def targets(self, ticket: Ticket) -> sla.Targets:
        key = (ticket.merchant_id, ticket.priority)
        if key not in self._targets:
            self._targets[key] = selectors.sla_targets(
                merchant=ticket.merchant, priority=ticket.priority
            )
        return self._targets[key]

    def team_leads(self) -> list[str]:
        if self._leads is None:
            addresses = (
                get_user_model()
                .objects.filter(care_profile__is_team_lead=True, is_active=True)
                .exclude(email="")
                .order_by("pk")
                .values_list("email", flat=True)
            )
            self._leads = list(dict.fromkeys(addresses))
        return self._leads


def sla_check(
    *,
    now: datetime.datetime,
    batch_size: int = DEFAULT_BATCH,
    merchant_id: int | None = None,
) -> SLACheckResult:
    """Check every running ticket's SLA as of ``now`` and close the resolved tickets
    past their reopen window; running it again at the same ``now`` changes nothing."""
    run = _Run(now=now, result=SLACheckResult())
    tickets = Ticket.objects.filter(status__in=RUNNING_STATUSES, paused_since__isnull=True)
    if merchant_id is not None:
        tickets = tickets.filter(merchant_id=merchant_id)
    _each_claimed(
        tickets.select_related("merchant", "assignee"),
        batch_size,
        lambda ticket: _check_one(ticket, run),
    )
    _close_expired(run, batch_size, merchant_id)
    return run.result


def _each_claimed(
    queryset: QuerySet[Ticket], batch_size: int, work: Callable[[Ticket], None]
) -> None:
    """Claim ``batch_size`` rows at a time in id order and ``work`` on each while the
    batch's transaction holds them."""
    last = 0
    while True:
        with transaction.atomic():
            batch = locks.tickets_claim(queryset.filter(pk__gt=last), batch_size=batch_size)
            for ticket in batch:
                work(ticket)
        if len(batch) < batch_size:
            return
        last = batch[-1].pk


# -- one ticket ------------------------------------------------------------------------


def _pending(ticket: Ticket) -> list[str]:
    if ticket.first_responded_at is None:
        return [FIRST_RESPONSE, RESOLUTION]
    return [RESOLUTION]


def _due(ticket: Ticket, target: str) -> datetime.datetime:
    return getattr(ticket, f"{target}_due_at")


def _is_breached(ticket: Ticket, target: str) -> bool:
    return getattr(ticket, f"{target}_breached")


def _target_minutes(targets: sla.Targets, target: str) -> int:
    if target == FIRST_RESPONSE:
        return targets.first_response_minutes
    return targets.resolution_minutes


def _sync_due_times(ticket: Ticket, run: _Run) -> list[str]:
    due = sla.due_times(ticket.created_at, ticket.paused_minutes, run.targets(ticket))
    changed = []
    # Once answered, the first-response target is history: a later priority change
    # must not turn a response that was in time into a late one.
    if ticket.first_responded_at is None and ticket.first_response_due_at != due.first_response:
        ticket.first_response_due_at = due.first_response
        changed.append("first_response_due_at")
    if ticket.resolution_due_at != due.resolution:
        ticket.resolution_due_at = due.resolution
        changed.append("resolution_due_at")
    return changed


def _check_one(ticket: Ticket, run: _Run) -> None:
    run.result.checked += 1
    counted = dataclasses.replace(run.result)
    try:
        with transaction.atomic():
            _check(ticket, run)
    except Exception:
        run.result = counted  # what the rolled-back savepoint did is not counted
        run.result.errors += 1
        logger.exception("SLA check of ticket %s failed", ticket.reference)


def _check(ticket: Ticket, run: _Run) -> None:
    """The SLA of one ticket, locked by the claim."""
    changed = _sync_due_times(ticket, run)
    if changed:
        run.result.due_times_updated += 1
    breached: list[str] = []
    notes: list[str] = []
    # At most two rounds: each round sets at least one of the two flags, each only once.
    while fresh := [
        target
        for target in _pending(ticket)
        if not _is_breached(ticket, target) and run.now >= _due(ticket, target)
    ]:
        notes += [_due_note(ticket, target) for target in fresh]
        for target in fresh:
            setattr(ticket, f"{target}_breached", True)
            changed.append(f"{target}_breached")
        breached += fresh
        ticket.escalations += 1
        changed.append("escalations")
        old = ticket.priority
        services.ticket_set_priority(
            ticket=ticket,
            priority=services.priority_above(ticket.priority),
            actor=SLA_CHECK,
            note="SLA breached: " + ", ".join(TARGET_LABELS[target] for target in fresh),
            locked=True,
        )
        if ticket.priority != old:
            run.result.escalated += 1
    run.result.breaches += len(breached)

    at_risk = _at_risk_targets(ticket, run)
    if any(_is_breached(ticket, target) for target in _pending(ticket)):
        state = SLAState.BREACHED
    elif at_risk:
        state = SLAState.AT_RISK
        notes = [_due_note(ticket, target) for target in at_risk]
    else:
        state = SLAState.ON_TRACK
        notes = []
    if state != ticket.sla_state:
        TicketEvent.objects.create(
            ticket=ticket,
            field=TicketEventField.SLA,
            from_value=ticket.sla_state,
            to_value=state,
            source="system",
            note="; ".join(notes)[:500],
        )
        ticket.sla_state = state
        changed.append("sla_state")
        if state == SLAState.AT_RISK:
            run.result.at_risk += 1
    if changed:
        ticket.save(update_fields=sorted(set(changed)))

    for target in breached:
        _notify(
            run,
            ticket,
            NotificationKind.BREACHED,
            f"breached:{ticket.pk}:{target}:{ticket.resolutions}",
            _assignee_address(ticket) + run.team_leads(),
        )
    if state != SLAState.AT_RISK:
        return
    for target in at_risk:
        if ticket.assignee_id is not None:
            _notify(
                run,
                ticket,
                NotificationKind.AT_RISK,
                f"at_risk:{ticket.pk}:{target}:{ticket.resolutions}:{ticket.assignee_id}",
                _assignee_address(ticket),
            )
        else:
            _notify(
                run,
                ticket,
                NotificationKind.UNASSIGNED,
                f"unassigned:{ticket.pk}:{target}:{ticket.resolutions}",
                run.team_leads(),
            )


def _at_risk_targets(ticket: Ticket, run: _Run) -> list[str]:
    targets = run.targets(ticket)
    return [
        target
        for target in _pending(ticket)
        if not _is_breached(ticket, target)
        and run.now
        >= sla.at_risk_from(
            ticket.created_at,
            ticket.paused_minutes,
            _target_minutes(targets, target),
            targets,
        )
    ]


def _due_note(ticket: Ticket, target: str) -> str:
    return f"{TARGET_LABELS[target]} due {_due(ticket, target):%Y-%m-%d %H:%M} UTC"


def _assignee_address(ticket: Ticket) -> list[str]:
    user = ticket.assignee
    if user is None or not user.is_active or not user.email:
        return []
    return [user.email]


def _notify(run: _Run, ticket: Ticket, kind: str, key: str, to: list[str]) -> None:
    to = list(dict.fromkeys(to))
    if to and notification_queue(ticket=ticket, kind=kind, key=key, to=to) is not None:
        run.result.notifications += 1


# -- the reopen window -------------------------------------------------------------------


def _close_expired(run: _Run, batch_size: int, merchant_id: int | None) -> None:
    """Close the resolved tickets whose merchant's reopen window has passed (a member's
    reply can no longer reopen them: ``services.ticket_member_message``)."""
    resolved = Ticket.objects.filter(status=TicketStatus.RESOLVED, resolved_at__isnull=False)
    if merchant_id is not None:
        resolved = resolved.filter(merchant_id=merchant_id)
    merchants = Merchant.objects.filter(pk__in=resolved.values("merchant_id")).order_by("pk")
    for merchant in merchants:
        days = selectors.care_settings_for(merchant=merchant).reopen_window_days
        expired = resolved.filter(
            merchant=merchant, resolved_at__lt=run.now - datetime.timedelta(days=days)
        )
        _each_claimed(expired, batch_size, lambda ticket, days=days: _close_one(ticket, days, run))


def _close_one(ticket: Ticket, days: int, run: _Run) -> None:
    try:
        with transaction.atomic():
            services.ticket_move(
                ticket=ticket,
                to=TicketStatus.CLOSED,
                actor=SLA_CHECK,
                note=f"reopen window of {days} day(s) passed",
            )
    except Exception:
        run.result.errors += 1
        logger.exception("closing ticket %s failed", ticket.reference)
    else:
        run.result.closed += 1
