"""Goodwill: points a care agent gives a member from a ticket.

A request at or under the merchant's approval threshold posts at once; above it, it
waits for another agent holding ``customercare.approve_goodwill`` (never the requester:
the database refuses that too). Posting goes through ``loyalty.ledger.points_adjust``
with the ticket as the source, so the ledger stays the one record of points.

Exactly once: the request form carries a one-time ``key`` and ``(merchant, key)`` is
unique, so a double click or a retried POST returns the row the first one wrote and posts
nothing. Approval is a compare-and-swap from pending under the adjustment's row lock, so
two approvers racing post once.

Lock order, everywhere: the adjustment row first (a new row's key is locked by its
insert), then the ticket, then the member (taken by the ledger). The ticket services lock
a ticket and then its member, so the ticket is locked here explicitly before the member:
the foreign keys of the rows written here (the adjustment, the note) would key-share lock
the ticket only at commit (PostgreSQL checks Django's foreign keys deferred), after the
member, and deadlock with a reply on the same ticket. The velocity limit is counted after
the member lock, so two requests for one member cannot both slip under it.
"""

import datetime
import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.actors import Actor, actor_user
from customercare import locks
from customercare.exceptions import GoodwillRefused, InvalidTicketInput
from customercare.models import (
    GoodwillAdjustment,
    GoodwillReason,
    GoodwillStatus,
    MessageAuthor,
    MessageKind,
    Ticket,
    TicketMessage,
)
from customercare.services import care_settings_for, ticket_is_open
from loyalty import ledger
from loyalty import locks as loyalty_locks
from loyalty.models import LedgerEntry, Program
from loyalty.services.programs import lot_expiry, program_get_active

APPROVE_PERMISSION = "customercare.approve_goodwill"
VELOCITY_WINDOW = datetime.timedelta(days=30)
NOTE_MAX = 500
# The column is a PositiveIntegerField.
POINTS_MAX = 2_147_483_647
COUNTED = (GoodwillStatus.POSTED, GoodwillStatus.PENDING_APPROVAL)


# -- input -------------------------------------------------------------------------------


def _clean_points(points: object) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= POINTS_MAX:
        raise InvalidTicketInput("A whole number of points, 1 or more.", field="points")
    return points


def _clean_note(note: object, field: str = "note") -> str:
    if not isinstance(note, str) or "\x00" in note or not note.strip():
        raise InvalidTicketInput("Say why.", field=field)
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise InvalidTicketInput(f"At most {NOTE_MAX} characters.", field=field)
    return note


def _clean_key(key: object) -> uuid.UUID:
    if isinstance(key, uuid.UUID):
        return key
    try:
        return uuid.UUID(str(key))
    except ValueError:
        raise InvalidTicketInput(
            "The form's key is not valid; reload the page.", field="key"
        ) from None


def _agent(actor: Actor) -> AbstractBaseUser:
    user = actor_user(actor)
    if user is None:
        raise GoodwillRefused("Goodwill is given by a care agent.")
    return user


def _approver(actor: Actor, adjustment: GoodwillAdjustment) -> AbstractBaseUser:
    user = _agent(actor)
    if not user.has_perm(APPROVE_PERMISSION):
        raise GoodwillRefused("Only a senior agent may approve or reject goodwill.")
    if user.pk == adjustment.requested_by_id:
        raise GoodwillRefused("Another agent must decide on goodwill you requested.")
    return user


# -- shared steps --------------------------------------------------------------------------


def _note(ticket: Ticket, body: str, user: AbstractBaseUser) -> None:
    TicketMessage.objects.create(
        ticket=ticket,
        kind=MessageKind.INTERNAL,
        author_type=MessageAuthor.STAFF,
        author=user,
        body=body,
    )


def _post(
    adjustment: GoodwillAdjustment,
    ticket: Ticket,
    program: Program,
    now: datetime.datetime,
    actor: Actor,
) -> LedgerEntry:
    reason = GoodwillReason(adjustment.reason).label
    return ledger.points_adjust(
        member=ticket.member,
        points=adjustment.points,
        # The agent's note stays on the ticket (internal); stores read ledger reasons.
        reason=f"Goodwill on {ticket.reference} ({reason})"[:500],
        at=now,
        expires_at=lot_expiry(program, now),
        source_type=LedgerEntry.Source.TICKET,
        source_ref=ticket.reference,
        actor=actor,
    )


def _replayed(
    existing: GoodwillAdjustment, ticket: Ticket, points: int, reason: str
) -> GoodwillAdjustment:
    """The row an earlier submission of the same form wrote; a key reused for something
    else is refused."""
    if (existing.ticket_id, existing.points, existing.reason) != (ticket.pk, points, reason):
        raise GoodwillRefused(
            "This form was already submitted with other values; reload the ticket.",
            field="key",
        )
    return existing


def goodwill_counted(*, member_id: int, now: datetime.datetime) -> int:
    """Goodwill credits posted or waiting for the member in the velocity window."""
    return GoodwillAdjustment.objects.filter(
        member_id=member_id, status__in=COUNTED, created_at__gte=now - VELOCITY_WINDOW
    ).count()


# -- services ------------------------------------------------------------------------------


def goodwill_request(
    *,
    ticket: Ticket,
    points: int,
    reason: str,
    note: str,
    key: uuid.UUID | str,
    actor: Actor,
) -> GoodwillAdjustment:
    """An agent gives ``points`` to the ticket's member: posted at once up to the
    merchant's threshold, else waiting for a senior's approval. The same ``key`` again
    returns the first row and posts nothing; over the member's velocity limit, or on a
    closed ticket, ``GoodwillRefused``."""
    points = _clean_points(points)
    if reason not in GoodwillReason.values:
        raise InvalidTicketInput(f"One of: {', '.join(GoodwillReason.values)}.", field="reason")
    note = _clean_note(note)
    key = _clean_key(key)
    user = _agent(actor)
    ticket = Ticket.objects.select_related("merchant", "member").get(pk=ticket.pk)
    existing = GoodwillAdjustment.objects.filter(merchant_id=ticket.merchant_id, key=key).first()
    if existing is not None:
        return _replayed(existing, ticket, points, reason)
    if not ticket_is_open(ticket=ticket):
        raise GoodwillRefused(
            f"The ticket is {ticket.get_status_display().lower()}; give goodwill on an open one."
        )
    terms = care_settings_for(merchant=ticket.merchant)
    program = program_get_active(merchant=ticket.merchant)
    now = timezone.now()
    try:
        with transaction.atomic():
            adjustment = GoodwillAdjustment.objects.create(
                merchant_id=ticket.merchant_id,
                ticket=ticket,
                member_id=ticket.member_id,
                key=key,
                points=points,
                reason=reason,
                note=note,
                status=GoodwillStatus.PENDING_APPROVAL,
                requested_by=user,
            )
            ticket = locks.ticket_lock_no_key(pk=ticket.pk)
            ticket.member = loyalty_locks.member_lock(ticket.member_id)
            earlier = goodwill_counted(member_id=ticket.member_id, now=now) - 1
            if earlier >= terms.goodwill_max_per_30_days:
                raise GoodwillRefused(
                    f"This member already has {earlier} goodwill credit(s) in the last 30 "
                    f"days; the limit is {terms.goodwill_max_per_30_days}.",
                    field="points",
                )
            label = GoodwillReason(reason).label
            if points <= terms.goodwill_approval_threshold:
                entry = _post(adjustment, ticket, program, now, actor)
                GoodwillAdjustment.objects.filter(
                    pk=adjustment.pk, status=GoodwillStatus.PENDING_APPROVAL
                ).update(status=GoodwillStatus.POSTED, ledger_entry=entry, decided_at=now)
                adjustment.refresh_from_db()
                outcome = f"posted; balance now {entry.balance_after}"
            else:
                outcome = (
                    "waiting for a senior agent's approval (above "
                    f"{terms.goodwill_approval_threshold})"
                )
            _note(
                ticket,
                f"Goodwill of {points} {program.points_name} ({label}): {note}. "
                f"{outcome.capitalize()}.",
                user,
            )
    except IntegrityError:
        # The same key committed by a concurrent submission, which this one waited for.
        existing = GoodwillAdjustment.objects.filter(
            merchant_id=ticket.merchant_id, key=key
        ).first()
        if existing is None:
            raise
        return _replayed(existing, ticket, points, reason)
    return adjustment


def goodwill_approve(*, adjustment: GoodwillAdjustment, actor: Actor) -> GoodwillAdjustment:
    """A senior agent approves a pending adjustment: it posts to the ledger once. The
    same approver's second click returns the posted row; anyone else's is refused."""
    user = _approver(actor, adjustment)
    program = program_get_active(merchant=adjustment.merchant)
    now = timezone.now()
    with transaction.atomic():
        row = locks.goodwill_adjustment_lock(pk=adjustment.pk)
        if row.status == GoodwillStatus.POSTED and row.decided_by_id == user.pk:
            return row
        if row.status != GoodwillStatus.PENDING_APPROVAL:
            raise GoodwillRefused(f"Already decided: {row.get_status_display().lower()}.")
        ticket = locks.ticket_lock_no_key(pk=row.ticket_id)
        _note(
            ticket,
            f"Goodwill of {row.points} {program.points_name} approved by "
            f"{user.get_username()} and posted to the ledger.",
            user,
        )
        entry = _post(row, ticket, program, now, actor)
        updated = GoodwillAdjustment.objects.filter(
            pk=row.pk, status=GoodwillStatus.PENDING_APPROVAL
        ).update(status=GoodwillStatus.POSTED, ledger_entry=entry, decided_by=user, decided_at=now)
        if not updated:
            raise GoodwillRefused("The adjustment changed meanwhile; reload it.")
        row.refresh_from_db()
    return row


def goodwill_reject(
    *, adjustment: GoodwillAdjustment, note: str, actor: Actor
) -> GoodwillAdjustment:
    """A senior agent turns a pending adjustment down, saying why; nothing is posted."""
    note = _clean_note(note)
    user = _approver(actor, adjustment)
    now = timezone.now()
    with transaction.atomic():
        row = locks.goodwill_adjustment_lock(pk=adjustment.pk)
        if row.status != GoodwillStatus.PENDING_APPROVAL:
            raise GoodwillRefused(f"Already decided: {row.get_status_display().lower()}.")
        GoodwillAdjustment.objects.filter(pk=row.pk, status=GoodwillStatus.PENDING_APPROVAL).update(
            status=GoodwillStatus.REJECTED, decided_by=user, decided_at=now, decision_note=note
        )
        ticket = Ticket.objects.get(pk=row.ticket_id)
        _note(
            ticket,
            f"Goodwill of {row.points} points rejected by {user.get_username()}: {note}",
            user,
        )
        row.refresh_from_db()
    return row


__all__ = [
    "APPROVE_PERMISSION",
    "goodwill_approve",
    "goodwill_counted",
    "goodwill_reject",
    "goodwill_request",
]
