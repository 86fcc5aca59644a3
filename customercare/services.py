"""Every change to a ticket: opening, status moves, messages, assignment, priority,
category and merges. Each service locks the ticket row, checks, writes, and records a
``TicketEvent`` for a change of status, assignee, priority or category, all in one
transaction. Emails are queued as ``CareNotification`` rows and sent by a task after the
commit (``customercare.notifications``), never inside the request.

Status moves go through ``_move`` only: it refuses what ``TICKET_TRANSITIONS`` does not
allow, applies the move as a compare-and-swap on the status and keeps the SLA clock:
entering a paused status starts a pause, leaving it adds the pause's counted minutes to
the ticket and pushes its due times out.

Every service takes the actor keyword-only and last. Events and messages record it
(``core.actors.actor_fields``): the agent, or the store's API key for what came through
the API; a job and the member on their ticket page leave both empty, and the event's
``source`` says which.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from core.actors import Actor, actor_fields, actor_user, require_actor
from core.exceptions import InvalidTransition
from customercare import attachments as attachment_rules
from customercare import claims, locks, sla
from customercare.assignment import agent_can_work, assign_round_robin
from customercare.exceptions import (
    CSATAlreadyGiven,
    InvalidTicketInput,
    TicketClosed,
)
from customercare.models import (
    PAUSED_STATUSES,
    PRIORITY_ORDER,
    TICKET_TRANSITIONS,
    CSATResponse,
    MessageAuthor,
    MessageKind,
    NotificationKind,
    SLAState,
    Ticket,
    TicketAttachment,
    TicketCategory,
    TicketChannel,
    TicketEvent,
    TicketEventField,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from customercare.notifications import notification_queue
from customercare.selectors import care_settings_for, sla_targets, ticket_may_be_rated
from fulfillment.models import Redemption
from loyalty.models import LedgerEntry, Member
from merchants.models import Merchant, WebhookEventType
from merchants.services.outbox import event_publish

SUBJECT_MAX = 200
BODY_MAX = 10_000
# Who writes a claim's finding on a new ticket: the claim check, not whoever opened it.
CLAIMS = Actor.system("claims")
# The note a merge leaves on the ticket merged into is the system's; the event names the agent.
MERGE_NOTE = Actor.system("ticket_merge")
# Where the first message is the member's own words (a public message they wrote): the
# store's API on their behalf, and the member portal's Help pages.
MEMBER_CHANNELS = frozenset({TicketChannel.API, TicketChannel.PORTAL})
# A merge chain longer than this is not followed (merges only ever go one way).
MAX_MERGE_HOPS = 10

# -- opening ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketInput:
    category: str
    subject: str
    body: str
    order_external_id: str = ""
    redemption: Redemption | None = None
    ledger_entry: LedgerEntry | None = None
    priority: str = TicketPriority.NORMAL


def _clean_text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or "\x00" in value or not value.strip():
        raise InvalidTicketInput("Required text.", field=field)
    value = value.strip()
    if len(value) > limit:
        raise InvalidTicketInput(f"At most {limit} characters.", field=field)
    return value


def _validate(merchant: Merchant, member: Member, data: TicketInput) -> None:
    if data.category not in TicketCategory.values:
        raise InvalidTicketInput(f"One of: {', '.join(TicketCategory.values)}.", field="category")
    if data.priority not in TicketPriority.values:
        raise InvalidTicketInput(f"One of: {', '.join(TicketPriority.values)}.", field="priority")
    if data.category == TicketCategory.MISSING_POINTS and not data.order_external_id:
        raise InvalidTicketInput(
            "A missing-points claim names the order (its external_id).", field="order"
        )
    if len(data.order_external_id) > 128:
        raise InvalidTicketInput("At most 128 characters.", field="order")
    for name, linked in (("redemption", data.redemption), ("ledger_entry", data.ledger_entry)):
        if linked is not None and (
            linked.merchant_id != merchant.pk or linked.member_id != member.pk
        ):
            raise InvalidTicketInput(f"Not one of this member's {name}s.", field=name)


def ticket_open(
    *,
    merchant: Merchant,
    member: Member,
    data: TicketInput,
    channel: str,
    attachments: Sequence[UploadedFile] = (),
    actor: Actor,
) -> Ticket:
    """Open a ticket: the member's words as its first message (a staff-opened ticket
    starts with the agent's note), a snapshot of the member's balance and tier, the
    structured claim's finding as an internal note, the SLA due times, and an agent
    by round robin when one is free."""
    subject = _clean_text(data.subject, "subject", SUBJECT_MAX)
    body = _clean_text(data.body, "message", BODY_MAX)
    if member.merchant_id != merchant.pk:
        raise InvalidTicketInput("Not a member of this merchant.", field="member")
    _validate(merchant, member, data)
    attachment_rules.check_all(attachments)
    now = timezone.now()
    with transaction.atomic():
        member = Member.objects.select_related("tier").get(pk=member.pk)
        ticket = Ticket(
            merchant=merchant,
            member=member,
            category=data.category,
            subject=subject,
            priority=data.priority,
            channel=channel,
            order_external_id=data.order_external_id,
            redemption=data.redemption,
            ledger_entry=data.ledger_entry,
            balance_at_open=member.points_balance,
            pending_at_open=member.pending_points,
            tier_at_open=member.tier.name if member.tier else "",
        )
        finding = None
        if data.category == TicketCategory.MISSING_POINTS:
            finding = claims.missing_points(
                merchant=merchant,
                member=member,
                order_external_id=data.order_external_id,
                claim_days=care_settings_for(merchant=merchant).missing_points_claim_days,
                now=now,
            )
            ticket.order = finding.order
        elif data.category in (TicketCategory.REWARD_NOT_RECEIVED, TicketCategory.WRONG_REWARD):
            finding = claims.reward_delivery(member=member, redemption=data.redemption)
        ticket.save()
        ticket.created_at = now
        Ticket.objects.filter(pk=ticket.pk).update(created_at=now)
        _event(ticket, TicketEventField.STATUS, "", TicketStatus.NEW, actor, _source(actor), "")
        from_member = channel in MEMBER_CHANNELS
        _message(
            ticket,
            body,
            kind=MessageKind.PUBLIC if from_member else MessageKind.INTERNAL,
            author_type=MessageAuthor.MEMBER
            if from_member
            else {TicketChannel.SYSTEM: MessageAuthor.SYSTEM}.get(channel, MessageAuthor.STAFF),
            actor=actor,
            attachments=attachments,
        )
        if finding is not None:
            _message(
                ticket,
                finding.note,
                kind=MessageKind.INTERNAL,
                author_type=MessageAuthor.SYSTEM,
                actor=CLAIMS,
            )
        if from_member:
            ticket.last_member_message_at = now
        _set_due_times(ticket)
        ticket.save()
        if actor_user(actor) is None or not agent_can_work(actor_user(actor)):
            assign_round_robin(ticket=ticket, now=now)
        else:
            _assign(ticket, actor_user(actor), actor)
    return ticket


# -- status -------------------------------------------------------------------------------


_SOURCES = {"staff": "staff", "portal": "portal", "api_key": "api", "member": "member"}


def _source(actor: Actor) -> str:
    """What a ticket event's ``source`` says for this actor (a job: ``system``)."""
    return _SOURCES.get(require_actor(actor).kind, "system")


def _event(
    ticket: Ticket, field: str, from_value: str, to_value: str, actor: Actor, source: str, note
) -> None:
    TicketEvent.objects.create(
        ticket=ticket,
        field=field,
        from_value=from_value or "",
        to_value=to_value or "",
        **actor_fields(actor),
        source=source,
        note=(note or "")[:500],
    )


def _set_due_times(ticket: Ticket) -> None:
    targets = sla_targets(merchant=ticket.merchant, priority=ticket.priority)
    due = sla.due_times(ticket.created_at, ticket.paused_minutes, targets)
    if ticket.first_responded_at is None:  # once answered, that target is history
        ticket.first_response_due_at = due.first_response
    ticket.resolution_due_at = due.resolution


def _due_now(ticket: Ticket, now: datetime.datetime) -> sla.DueTimes:
    """The due times as they stand at ``now``, counting a pause still running (a ticket
    answered or resolved while it waits has not used that time)."""
    targets = sla_targets(merchant=ticket.merchant, priority=ticket.priority)
    paused = ticket.paused_minutes
    if ticket.paused_since is not None:
        paused += sla.minutes_between(ticket.paused_since, now, targets.calendar)
    return sla.due_times(ticket.created_at, paused, targets)


def _move(ticket: Ticket, to: str, *, actor: Actor, source: str, note: str = "", now=None) -> None:
    """Move a locked ticket to ``to`` (the caller saves the other fields it changed)."""
    now = now or timezone.now()
    old = ticket.status
    if to == old:
        return
    if to not in TICKET_TRANSITIONS[old]:
        raise InvalidTransition(
            f"A ticket cannot go from {TicketStatus(old).label} to {TicketStatus(to).label}.",
            field="status",
        )
    if old in PAUSED_STATUSES and to not in PAUSED_STATUSES and ticket.paused_since:
        targets = sla_targets(merchant=ticket.merchant, priority=ticket.priority)
        ticket.paused_minutes += sla.minutes_between(ticket.paused_since, now, targets.calendar)
        ticket.paused_since = None
        _set_due_times(ticket)
    elif to in PAUSED_STATUSES and old not in PAUSED_STATUSES:
        ticket.paused_since = now
    if to == TicketStatus.RESOLVED:
        ticket.resolved_at = now
        ticket.resolutions += 1
        # Resolved late, before the job saw it: a breach all the same.
        if not ticket.resolution_breached and now > _due_now(ticket, now).resolution:
            ticket.resolution_breached = True
        if ticket.first_response_breached or ticket.resolution_breached:
            ticket.sla_state = SLAState.BREACHED
        else:
            ticket.sla_state = SLAState.MET
    elif old == TicketStatus.RESOLVED and to != TicketStatus.CLOSED:  # reopened
        ticket.resolved_at = None
        ticket.sla_state = SLAState.BREACHED if ticket.resolution_breached else SLAState.ON_TRACK
    if to == TicketStatus.CLOSED:
        ticket.closed_at = now
    also = {"merged_into": ticket.merged_into} if to == TicketStatus.MERGED else {}
    updated = Ticket.objects.filter(pk=ticket.pk, status=old).update(status=to, **also)
    if not updated:
        raise InvalidTransition("The ticket changed meanwhile; reload it.", field="status")
    ticket.status = to
    _event(ticket, TicketEventField.STATUS, old, to, actor, source, note)
    if to == TicketStatus.RESOLVED:
        notification_queue(
            ticket=ticket,
            kind=NotificationKind.RESOLVED,
            key=f"resolved:{ticket.pk}:{ticket.resolutions}",
        )


def ticket_move(*, ticket: Ticket, to: str, note: str = "", actor: Actor) -> Ticket:
    """Staff (or a job) moves the ticket's status."""
    if to not in TicketStatus.values or to == TicketStatus.MERGED:
        raise InvalidTicketInput("Not a status a ticket can be moved to.", field="status")
    with transaction.atomic():
        ticket = locks.ticket_lock(pk=ticket.pk)
        _move(ticket, to, actor=actor, source=_source(actor), note=note)
        ticket.save()
    return ticket


# -- messages -------------------------------------------------------------------------------


def _message(
    ticket: Ticket,
    body: str,
    *,
    kind: str,
    author_type: str,
    actor: Actor,
    attachments: Sequence[UploadedFile] = (),
) -> TicketMessage:
    message = TicketMessage.objects.create(
        ticket=ticket,
        kind=kind,
        author_type=author_type,
        **actor_fields(actor, user_field="author"),
        body=body,
    )
    for upload in attachments:
        TicketAttachment.objects.create(
            message=message,
            file=upload,
            filename=attachment_rules.display_name(upload),
            content_type=attachment_rules.content_type(upload),
            size=upload.size,
        )
    return message


REPLY_THEN = (
    TicketStatus.OPEN,
    TicketStatus.PENDING_CUSTOMER,
    TicketStatus.PENDING_FULFILLMENT,
    TicketStatus.RESOLVED,
)


def ticket_reply(
    *,
    ticket: Ticket,
    body: str,
    internal: bool,
    then: str | None = None,
    attachments: Sequence[UploadedFile] = (),
    actor: Actor,
) -> TicketMessage:
    """An agent's public reply (emailed to the member; the first one is the first
    response) or internal note; ``then`` moves the ticket on in the same step."""
    body = _clean_text(body, "body", BODY_MAX)
    if then is not None and then not in REPLY_THEN:
        raise InvalidTicketInput("Not a status to move to after a reply.", field="then")
    attachment_rules.check_all(attachments)
    now = timezone.now()
    with transaction.atomic():
        ticket = locks.ticket_lock(pk=ticket.pk)
        if not ticket_is_open(ticket=ticket):
            raise TicketClosed()
        message = _message(
            ticket,
            body,
            kind=MessageKind.INTERNAL if internal else MessageKind.PUBLIC,
            author_type=MessageAuthor.STAFF,
            actor=actor,
            attachments=attachments,
        )
        if not internal:
            if ticket.first_responded_at is None:
                ticket.first_responded_at = now
                if now > _due_now(ticket, now).first_response:
                    ticket.first_response_breached = True
            if ticket.status == TicketStatus.NEW and then is None:
                then = TicketStatus.OPEN
            notification_queue(
                ticket=ticket,
                kind=NotificationKind.REPLY,
                key=f"reply:{message.pk}",
                message=message,
            )
        if then is not None:
            if ticket.status == TicketStatus.NEW and then != TicketStatus.OPEN:
                _move(ticket, TicketStatus.OPEN, actor=actor, source="staff", now=now)
            _move(ticket, then, actor=actor, source="staff", now=now)
        ticket.save()
        if not internal:
            _reply_publish(ticket, message, now)
    return message


def _reply_publish(ticket: Ticket, message: TicketMessage, now: datetime.datetime) -> None:
    """``ticket.replied`` for the merchant's systems (outbound webhooks), in the reply's
    transaction; internal notes are never published."""
    external_id = Member.objects.values_list("external_id", flat=True).get(pk=ticket.member_id)
    event_publish(
        merchant_id=ticket.merchant_id,
        type=WebhookEventType.TICKET_REPLIED,
        subject=external_id,
        payload={
            "ticket": {
                "reference": ticket.reference,
                "subject": ticket.subject,
                "status": ticket.status,
                "category": ticket.category,
            },
            "message": {"body": message.body, "at": now.isoformat()},
        },
        occurred_at=now,
    )


def ticket_is_open(*, ticket: Ticket) -> bool:
    """Whether staff can still work the ticket (reply, write a note, give goodwill, merge
    another into it): neither closed nor merged away."""
    return ticket.status not in (TicketStatus.CLOSED, TicketStatus.MERGED)


def ticket_merge_destination(*, ticket: Ticket, lock: bool = False) -> Ticket:
    """Where the ticket's thread is: the ticket itself, or, when it was merged, the ticket
    it went into (following merges of merges, ``MAX_MERGE_HOPS`` at most). ``lock``: each
    ticket on the way is locked, as a writer needs."""
    for _hop in range(MAX_MERGE_HOPS):
        if ticket.status != TicketStatus.MERGED or ticket.merged_into_id is None:
            break
        if lock:
            ticket = locks.ticket_lock(pk=ticket.merged_into_id)
        else:
            ticket = Ticket.objects.select_related("member").get(pk=ticket.merged_into_id)
    return ticket


def ticket_member_can_reply(*, ticket: Ticket, now: datetime.datetime | None = None) -> bool:
    """Whether ``ticket_member_message`` takes the member's message on this ticket (the
    one the thread is on): not once closed or merged, nor once resolved longer ago than
    the merchant's reopen window."""
    if not ticket_is_open(ticket=ticket):
        return False
    if ticket.status == TicketStatus.RESOLVED:
        window = datetime.timedelta(
            days=care_settings_for(merchant=ticket.merchant).reopen_window_days
        )
        now = now or timezone.now()
        return ticket.resolved_at is not None and ticket.resolved_at + window >= now
    return True


def ticket_member_message(
    *, ticket: Ticket, body: str, attachments: Sequence[UploadedFile] = (), actor: Actor
) -> TicketMessage:
    """The member writes on their ticket: through the store's API (``actor`` the key) or
    on the ticket page (``Actor.member()``); the member is the author either way. A ticket
    waiting on them, or resolved within the merchant's reopen window, opens again; one
    merged elsewhere takes the message on the ticket it went into; a closed one, or one
    resolved longer ago, refuses (the member opens a new ticket)."""
    body = _clean_text(body, "message", BODY_MAX)
    attachment_rules.check_all(attachments)
    now = timezone.now()
    with transaction.atomic():
        ticket = ticket_merge_destination(ticket=locks.ticket_lock(pk=ticket.pk), lock=True)
        if not ticket_member_can_reply(ticket=ticket, now=now):
            raise TicketClosed()
        message = _message(
            ticket,
            body,
            kind=MessageKind.PUBLIC,
            author_type=MessageAuthor.MEMBER,
            actor=actor,
            attachments=attachments,
        )
        ticket.last_member_message_at = now
        if ticket.status in (TicketStatus.PENDING_CUSTOMER, TicketStatus.RESOLVED):
            note = (
                "reopened by the member's reply" if ticket.status == TicketStatus.RESOLVED else ""
            )
            _move(ticket, TicketStatus.OPEN, actor=actor, source="member", note=note, now=now)
        ticket.save()
    return message


# -- assignment, priority, category -------------------------------------------------------


def _assign(ticket: Ticket, assignee: AbstractBaseUser | None, actor: Actor) -> None:
    old = ticket.assignee
    if (old and old.pk) == (assignee and assignee.pk):
        return
    ticket.assignee = assignee
    Ticket.objects.filter(pk=ticket.pk).update(assignee=assignee)
    _event(
        ticket,
        TicketEventField.ASSIGNEE,
        old.get_username() if old else "",
        assignee.get_username() if assignee else "",
        actor,
        _source(actor),
        "",
    )


def ticket_assign(*, ticket: Ticket, assignee: AbstractBaseUser | None, actor: Actor) -> Ticket:
    """Give the ticket to an agent of the Customer care group (or to nobody)."""
    if assignee is not None and not agent_can_work(assignee):
        raise InvalidTicketInput(
            "Only an active member of the Customer care group can take tickets.",
            field="assignee",
        )
    with transaction.atomic():
        ticket = locks.ticket_lock(pk=ticket.pk)
        _assign(ticket, assignee, actor)
    return ticket


def ticket_take(*, ticket: Ticket, actor: Actor) -> Ticket:
    """'Take it': the acting agent becomes the assignee."""
    return ticket_assign(ticket=ticket, assignee=actor_user(actor), actor=actor)


def ticket_set_priority(
    *, ticket: Ticket, priority: str, note: str = "", locked: bool = False, actor: Actor
) -> Ticket:
    """Change the priority; the due times follow the new priority's targets."""
    if priority not in TicketPriority.values:
        raise InvalidTicketInput(f"One of: {', '.join(TicketPriority.values)}.", field="priority")
    with transaction.atomic():
        if not locked:
            ticket = locks.ticket_lock(pk=ticket.pk)
        old = ticket.priority
        if old == priority:
            return ticket
        ticket.priority = priority
        _set_due_times(ticket)
        ticket.save()
        _event(ticket, TicketEventField.PRIORITY, old, priority, actor, _source(actor), note)
    return ticket


def priority_above(priority: str) -> str:
    """One step up (urgent stays urgent)."""
    index = PRIORITY_ORDER.index(TicketPriority(priority))
    return PRIORITY_ORDER[min(index + 1, len(PRIORITY_ORDER) - 1)]


def ticket_set_category(*, ticket: Ticket, category: str, actor: Actor) -> Ticket:
    if category not in TicketCategory.values:
        raise InvalidTicketInput(f"One of: {', '.join(TicketCategory.values)}.", field="category")
    with transaction.atomic():
        ticket = locks.ticket_lock(pk=ticket.pk)
        old = ticket.category
        if old != category:
            ticket.category = category
            ticket.save()
            _event(ticket, TicketEventField.CATEGORY, old, category, actor, _source(actor), "")
    return ticket


# -- merge --------------------------------------------------------------------------------


def ticket_merge(*, ticket: Ticket, into: Ticket, actor: Actor) -> Ticket:
    """Move ``ticket``'s thread into ``into`` (the same member's) and close it as merged."""
    if ticket.pk == into.pk:
        raise InvalidTicketInput("A ticket cannot be merged into itself.", field="into")
    with transaction.atomic():
        # Both rows, in id order.
        rows = locks.tickets_lock(pks=[ticket.pk, into.pk])
        ticket, into = rows[ticket.pk], rows[into.pk]
        if ticket.merchant_id != into.merchant_id or ticket.member_id != into.member_id:
            raise InvalidTicketInput("Only the same member's tickets can be merged.", field="into")
        if not ticket_is_open(ticket=into):
            raise InvalidTicketInput("The ticket to merge into is closed.", field="into")
        moved = TicketMessage.objects.filter(ticket=ticket).update(ticket=into)
        ticket.merged_into = into
        _move(
            ticket,
            TicketStatus.MERGED,
            actor=actor,
            source=_source(actor),
            note=f"into {into.reference}",
        )
        ticket.save()
        _message(
            into,
            f"{ticket.reference} ({ticket.subject}) was merged into this ticket: "
            f"{moved} message(s) moved.",
            kind=MessageKind.INTERNAL,
            author_type=MessageAuthor.SYSTEM,
            actor=MERGE_NOTE,
        )
        if into.last_member_message_at is None or (
            ticket.last_member_message_at
            and ticket.last_member_message_at > into.last_member_message_at
        ):
            into.last_member_message_at = ticket.last_member_message_at
            into.save()
    return into


# -- CSAT ----------------------------------------------------------------------------------


def csat_record(*, ticket: Ticket, score: object, comment: object, via: str) -> CSATResponse:
    """The member's rating of the ticket's latest resolution, once."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise InvalidTicketInput("A whole number from 1 to 5.", field="score")
    if comment is None:
        comment = ""
    if not isinstance(comment, str) or "\x00" in comment or len(comment) > 2000:
        raise InvalidTicketInput("Text of at most 2000 characters.", field="comment")
    with transaction.atomic():
        ticket = locks.ticket_lock(pk=ticket.pk)
        if not ticket_may_be_rated(ticket=ticket):
            raise InvalidTransition("Only a resolved ticket can be rated.", field="score")
        if CSATResponse.objects.filter(ticket=ticket, resolution=ticket.resolutions).exists():
            raise CSATAlreadyGiven()
        return CSATResponse.objects.create(
            ticket=ticket,
            resolution=ticket.resolutions,
            score=score,
            comment=comment.strip(),
            via=via,
        )
