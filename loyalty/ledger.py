"""Every change to a member's points goes through this module.

Each function runs in one transaction, takes the member's row lock first
(``loyalty.locks``; lots are only touched under it), writes one append-only
``LedgerEntry`` and updates the member's cached ``points_balance``, ``pending_points`` and
``lifetime_points`` in the same transaction. The database's CHECK constraints refuse a
negative balance even if this code were wrong.

- Earned points form a ``PointLot``; pending lots wait for ``available_at`` (the return
  window) and are released by a scheduled job.
- Spending consumes available lots oldest first, recording a ``LotMovement`` per lot.
- A reversal (order refund) takes from the order's pending lots first, then from the
  balance (the order's own lots, then the oldest); what is already spent is recorded as a
  shortfall and never drives the balance negative.
- Every entry records who acted (``core.actors.actor_fields``): the staff or portal user,
  or the store's API key, and a label that names a job too (``"expire_points"``).
- Earning, spending and expiry are events for the merchant's systems (``loyalty.events``):
  each writes its outbox row beside its entry, in the same batch when there is one (the
  order path stays one statement).
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum

from core.actors import Actor, actor_fields, actor_label
from loyalty import events
from loyalty.batch import WriteBatch
from loyalty.exceptions import InsufficientPoints, InvalidAdjustment, SpendAlreadyRefunded
from loyalty.locks import (
    lots_pending_of_order_lock,
    lots_spendable_lock,
    member_lock,
    movements_of_entry_lock,
)
from loyalty.models import LedgerEntry, LotMovement, Member, Order, PointLot, Refund

Kind = LedgerEntry.Kind
Source = LedgerEntry.Source


def _write(
    member: Member,
    *,
    kind: str,
    points: int = 0,
    pending: int = 0,
    lifetime: int = 0,
    at: datetime.datetime,
    source_type: str,
    source_ref: str = "",
    order: Order | None = None,
    refund: Refund | None = None,
    activity=None,
    reason: str = "",
    shortfall: int = 0,
    touch: bool = True,
    reverses: LedgerEntry | None = None,
    batch: WriteBatch | None = None,
    actor: Actor,
) -> LedgerEntry:
    """Apply a change to a locked member and record it: at once, or queued in ``batch``
    (written when the caller executes it, before the transaction ends)."""
    member.points_balance += points
    member.pending_points += pending
    member.lifetime_points += lifetime
    fields = ["points_balance", "pending_points", "lifetime_points", "updated_at"]
    if touch and (member.last_activity_at is None or at > member.last_activity_at):
        member.last_activity_at = at
        fields.append("last_activity_at")
    if shortfall and not member.has_refund_shortfall:
        member.has_refund_shortfall = True
        fields.append("has_refund_shortfall")
    # Only the references an entry has are passed: setting an empty one costs as much as
    # setting one, and a job writes an entry for every member of its batch.
    references = {
        name: value
        for name, value in (
            ("order", order),
            ("refund", refund),
            ("activity", activity),
            ("reverses", reverses),
            *actor_fields(actor).items(),
        )
        if value is not None
    }
    entry = LedgerEntry(
        merchant_id=member.merchant_id,
        member=member,
        kind=kind,
        points=points,
        pending=pending,
        balance_after=member.points_balance,
        pending_after=member.pending_points,
        source_type=source_type,
        source_ref=source_ref,
        actor_label=actor_label(actor),
        reason=reason[:500],
        shortfall=shortfall,
        created_at=at,
        **references,
    )
    if batch is None:
        member.save(update_fields=fields)
        entry.save(force_insert=True)
    else:
        batch.update(member, fields)
        batch.insert(entry)
    return entry


def _consume(points: int, lots: Iterable[PointLot]) -> list[tuple[PointLot, int]]:
    """Take up to ``points`` from ``lots`` in order; returns what was taken from which."""
    taken: list[tuple[PointLot, int]] = []
    left = points
    for lot in lots:
        if left <= 0:
            break
        take = min(lot.remaining, left)
        if take <= 0:
            continue
        lot.remaining -= take
        lot.save(update_fields=["remaining"])
        taken.append((lot, take))
        left -= take
    return taken


def _record_movements(entry: LedgerEntry, taken: list[tuple[PointLot, int]], sign: int) -> None:
    LotMovement.objects.bulk_create(
        LotMovement(entry=entry, lot=lot, points=sign * points) for lot, points in taken if points
    )


@transaction.atomic(savepoint=False)
def points_earn(
    *,
    member: Member,
    points: int,
    at: datetime.datetime,
    available_at: datetime.datetime,
    expires_at: datetime.datetime | None,
    source_type: str,
    source_ref: str = "",
    order: Order | None = None,
    activity=None,
    reason: str = "",
    member_locked: bool = False,
    batch: WriteBatch | None = None,
    actor: Actor,
) -> LedgerEntry | None:
    """Credit ``points`` as a new lot: pending until ``available_at`` if that is later than
    ``at``, spendable at once otherwise. Nothing is written for zero points. The caller may
    pass a ``member`` it already locked in this transaction (``member_locked``); its cached
    balances are then updated in place. With a ``batch`` (which needs ``member_locked``)
    the writes are queued there, beside the caller's own (the order and its lines may be
    unsaved instances of the same batch), and the caller executes it."""
    if points <= 0:
        return None
    if batch is not None and not member_locked:
        raise ValueError("a batched earn needs the member locked by the caller")
    if not member_locked:
        member = member_lock(member.pk)
    own_batch = batch is None
    if batch is None:
        batch = WriteBatch()
    pending = available_at > at
    entry = _write(
        member,
        kind=Kind.EARN,
        points=0 if pending else points,
        pending=points if pending else 0,
        lifetime=points,
        at=at,
        source_type=source_type,
        source_ref=source_ref,
        order=order,
        activity=activity,
        reason=reason,
        actor=actor,
        batch=batch,
    )
    entry.lot = PointLot(
        merchant_id=member.merchant_id,
        member=member,
        entry=entry,
        order=order,
        points=points,
        remaining=points,
        earned_at=at,
        available_at=available_at if pending else at,
        released_at=None if pending else at,
        expires_at=expires_at,
    )
    batch.insert(entry.lot)
    events.points_publish(
        type=events.EventType.POINTS_EARNED, member=member, entry=entry, lot=entry.lot, batch=batch
    )
    if own_batch:
        batch.execute()
    return entry


@transaction.atomic
def points_spend(
    *,
    member: Member,
    points: int,
    at: datetime.datetime,
    source_type: str,
    source_ref: str = "",
    kind: str = Kind.REDEEM,
    reason: str = "",
    actor: Actor,
) -> LedgerEntry:
    """Debit ``points`` from the oldest available lots; refuses more than the balance."""
    if points <= 0:
        raise InvalidAdjustment("Spend a positive number of points.", field="points")
    member = member_lock(member.pk)
    if points > member.points_balance:
        raise InsufficientPoints(
            f"The member has {member.points_balance} points; {points} are needed.",
            field="points",
            balance=member.points_balance,
        )
    taken = _consume(points, lots_spendable_lock(member))
    entry = _write(
        member,
        kind=kind,
        points=-points,
        at=at,
        source_type=source_type,
        source_ref=source_ref,
        reason=reason,
        actor=actor,
    )
    _record_movements(entry, taken, -1)
    events.points_publish(type=events.EventType.POINTS_SPENT, member=member, entry=entry)
    return entry


@transaction.atomic
def points_adjust(
    *,
    member: Member,
    points: int,
    reason: str,
    at: datetime.datetime,
    expires_at: datetime.datetime | None,
    source_type: str = Source.STAFF,
    source_ref: str = "",
    actor: Actor,
) -> LedgerEntry:
    """A staff (or care goodwill) correction: a credit forms a new lot, a debit spends."""
    if not (reason or "").strip():
        raise InvalidAdjustment("Say why the points change.", field="reason")
    if points == 0:
        raise InvalidAdjustment("An adjustment needs a non-zero number of points.", field="points")
    if points < 0:
        return points_spend(
            member=member,
            points=-points,
            at=at,
            kind=Kind.ADJUST,
            source_type=source_type,
            source_ref=source_ref,
            reason=reason,
            actor=actor,
        )
    member = member_lock(member.pk)
    entry = _write(
        member,
        kind=Kind.ADJUST,
        points=points,
        lifetime=points,
        at=at,
        source_type=source_type,
        source_ref=source_ref,
        reason=reason,
        actor=actor,
    )
    lot = PointLot.objects.create(
        merchant_id=member.merchant_id,
        member=member,
        entry=entry,
        points=points,
        remaining=points,
        earned_at=at,
        available_at=at,
        released_at=at,
        expires_at=expires_at,
    )
    events.points_publish(type=events.EventType.POINTS_EARNED, member=member, entry=entry, lot=lot)
    return entry


@dataclass(frozen=True)
class Reversal:
    entry: LedgerEntry | None
    reversed: int
    shortfall: int


@transaction.atomic
def points_reverse_for_refund(
    *,
    member: Member,
    order: Order,
    refund: Refund,
    points: int,
    at: datetime.datetime,
    actor: Actor,
) -> Reversal:
    """Take back ``points`` an order earned: its pending lots first, then the balance (its
    own released lots, then the oldest others). What the member already spent becomes the
    shortfall; the balance stops at zero."""
    if points <= 0:
        return Reversal(entry=None, reversed=0, shortfall=0)
    member = member_lock(member.pk)
    from_pending = _consume(points, lots_pending_of_order_lock(order))
    pending_taken = sum(taken for _, taken in from_pending)
    left = points - pending_taken
    own_lots = list(lots_spendable_lock(member).filter(order=order))
    other_lots = lots_spendable_lock(member).exclude(order=order)
    from_balance = _consume(left, own_lots)
    balance_taken = sum(taken for _, taken in from_balance)
    from_balance += _consume(left - balance_taken, other_lots)
    balance_taken = sum(taken for _, taken in from_balance)
    shortfall = left - balance_taken
    entry = _write(
        member,
        kind=Kind.REVERSE,
        points=-balance_taken,
        pending=-pending_taken,
        # Lifetime loses what was actually taken back: points already spent (the shortfall)
        # were, in the end, the member's.
        lifetime=-(pending_taken + balance_taken),
        at=at,
        source_type=Source.REFUND,
        source_ref=refund.external_id,
        order=order,
        refund=refund,
        reason=f"refund {refund.external_id} of order {order.external_id}",
        shortfall=shortfall,
        touch=False,
        actor=actor,
    )
    _record_movements(entry, from_pending + from_balance, -1)
    events.points_publish(type=events.EventType.POINTS_REVERSED, member=member, entry=entry)
    return Reversal(entry=entry, reversed=pending_taken + balance_taken, shortfall=shortfall)


@transaction.atomic
def points_refund_spend(
    *,
    spend_entry: LedgerEntry,
    reason: str,
    at: datetime.datetime,
    source_ref: str = "",
    actor: Actor,
) -> LedgerEntry:
    """Give back what a spend took (a failed redemption), to the very lots it came from,
    so their expiry dates stay as they were. A spend is given back once at most (a unique
    constraint on ``reverses``)."""
    member = member_lock(spend_entry.member_id)
    if LedgerEntry.objects.filter(reverses=spend_entry).exists():
        raise SpendAlreadyRefunded(f"Entry {spend_entry.pk} was already given back.")
    movements = movements_of_entry_lock(spend_entry)
    for movement in movements:
        lot = movement.lot
        lot.remaining += -movement.points
        lot.save(update_fields=["remaining"])
    points = -spend_entry.points
    entry = _write(
        member,
        kind=Kind.REDEMPTION_REFUND,
        points=points,
        at=at,
        source_type=spend_entry.source_type,
        source_ref=source_ref or spend_entry.source_ref,
        reason=reason,
        touch=False,
        reverses=spend_entry,
        actor=actor,
    )
    _record_movements(entry, [(m.lot, -m.points) for m in movements], 1)
    events.points_publish(type=events.EventType.POINTS_RETURNED, member=member, entry=entry)
    return entry


def release_lots(
    batches: list[tuple[Member, list[PointLot]]], at: datetime.datetime, *, actor: Actor
) -> list[LedgerEntry]:
    """Make locked members' due pending lots spendable: one entry per member for all of
    their lots. Set-based: one ``UPDATE`` of the lots, and the members' balances and
    entries in one statement on PostgreSQL, whatever the number of members."""
    PointLot.objects.filter(pk__in=[lot.pk for _, lots in batches for lot in lots]).update(
        released_at=at
    )
    counted = [(member, len(lots), sum(lot.remaining for lot in lots)) for member, lots in batches]
    return _release_entries(counted, at, actor=actor)


def lots_release_due(
    *, members: list[Member], due: QuerySet[PointLot], at: datetime.datetime, actor: Actor
) -> list[tuple[Member, int, LedgerEntry]]:
    """``release_lots`` for the lots of ``due`` that belong to locked ``members``, without
    loading them: one aggregate per member, one ``UPDATE`` of the lots by member, the
    balances, entries and events in one statement. Returns (member, lots, entry) for each
    member that had some. The member's lock is what keeps their lots still between the
    read and the write (every change to a lot takes it first)."""
    counts = _per_member(due.filter(member_id__in=[m.pk for m in members]))
    if not counts:
        return []
    updated = due.filter(member_id__in=list(counts)).update(released_at=at)
    expected = sum(lots for lots, _ in counts.values())
    if updated != expected:  # a lot changed without its member's lock: write nothing
        raise RuntimeError(f"released {updated} lot(s) where {expected} were due")
    counted = [(m, *counts[m.pk]) for m in members if m.pk in counts]
    entries = _release_entries(counted, at, actor=actor)
    by_member = {entry.member_id: entry for entry in entries}
    return [(m, lots, by_member[m.pk]) for m, lots, _ in counted if m.pk in by_member]


def _release_entries(
    counted: list[tuple[Member, int, int]], at: datetime.datetime, *, actor: Actor
) -> list[LedgerEntry]:
    """The entries, balances and events of a release: (member, lots, points) each, the
    lots already written."""
    events.tiers_attach([member for member, _, _ in counted])  # for the events, in one query
    batch = WriteBatch()
    entries = []
    for member, lots, points in counted:
        if points <= 0:
            continue
        entry = _write(
            member,
            kind=Kind.RELEASE,
            points=points,
            pending=-points,
            at=at,
            source_type=Source.SYSTEM,
            reason=f"{lots} lot(s) past their pending period",
            touch=False,
            batch=batch,
            actor=actor,
        )
        events.points_publish(
            type=events.EventType.POINTS_RELEASED, member=member, entry=entry, batch=batch
        )
        entries.append(entry)
    batch.execute()
    return entries


def expire_lots(
    batches: list[tuple[Member, list[PointLot]]],
    at: datetime.datetime,
    reason: str,
    *,
    actor: Actor,
) -> list[LedgerEntry]:
    """Expire what is left of locked members' lots: one entry per member for all of
    their lots, and a movement per lot. Set-based like ``release_lots``: the lots, the
    balances and entries, the movements (three statements on PostgreSQL)."""
    taken_by_member = []
    for member, lots in batches:
        taken = [(lot.pk, lot.remaining) for lot in lots if lot.remaining > 0]
        if sum(remaining for _, remaining in taken) > 0:
            taken_by_member.append((member, taken))
    PointLot.objects.filter(
        pk__in=[lot_id for _, taken in taken_by_member for lot_id, _ in taken]
    ).update(remaining=0)
    for _, lots in batches:
        for lot in lots:
            lot.remaining = 0
    entries = _expire_entries(
        [(member, sum(points for _, points in taken)) for member, taken in taken_by_member],
        at,
        reason,
        actor=actor,
    )
    LotMovement.objects.bulk_create(
        LotMovement(entry=entry, lot_id=lot_id, points=-remaining)
        for (_, taken), entry in zip(taken_by_member, entries, strict=True)
        for lot_id, remaining in taken
    )
    return entries


def lots_expire_due(
    *,
    members: list[Member],
    lots: QuerySet[PointLot],
    at: datetime.datetime,
    reason: str,
    actor: Actor,
) -> list[tuple[Member, int, LedgerEntry]]:
    """``expire_lots`` for the lots of ``lots`` that belong to locked ``members``, without
    loading them: one aggregate per member, the balances, entries and events in one
    statement, the movements from the lots as they stand in one more (``INSERT ...
    SELECT`` on PostgreSQL), then one ``UPDATE`` of the lots by member. Returns (member,
    lots, entry) for each member that had points to expire."""
    due = lots.filter(member_id__in=[m.pk for m in members], remaining__gt=0)
    counts = _per_member(due)
    if not counts:
        return []
    counted = [(m, *counts[m.pk]) for m in members if m.pk in counts]
    entries = _expire_entries([(m, points) for m, _, points in counted], at, reason, actor=actor)
    due = lots.filter(member_id__in=list(counts), remaining__gt=0)
    expected = sum(count for _, count, _ in counted)
    moved = _movements_taking_all(due, entries)
    updated = due.update(remaining=0)
    if not moved == updated == expected:  # a lot changed without its member's lock
        raise RuntimeError(f"expired {updated} lot(s), {moved} moved, where {expected} were due")
    return [(m, count, entry) for (m, count, _), entry in zip(counted, entries, strict=True)]


def _per_member(lots: QuerySet[PointLot]) -> dict[int, tuple[int, int]]:
    """member id -> (lots, points left in them)."""
    return {
        member_id: (count, points)
        for member_id, count, points in lots.order_by()
        .values("member_id")
        .annotate(count=Count("pk"), points=Sum("remaining"))
        .values_list("member_id", "count", "points")
    }


def _movements_taking_all(lots: QuerySet[PointLot], entries: list[LedgerEntry]) -> int:
    """A movement for each lot of ``lots`` taking what it has left, recorded on its member's
    entry among ``entries``; how many were written."""
    entry_of = {entry.member_id: entry.pk for entry in entries}
    rows = lots.order_by("member_id", "earned_at", "pk").values("member_id", "pk", "remaining")
    if connection.vendor != "postgresql":
        moved = LotMovement.objects.bulk_create(
            LotMovement(entry_id=entry_of[r["member_id"]], lot_id=r["pk"], points=-r["remaining"])
            for r in rows
        )
        return len(moved)
    select, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO loyalty_lotmovement (entry_id, lot_id, points) "  # noqa: S608
            "SELECT e.entry_id, l.id, -l.remaining "
            f"FROM ({select}) AS l(member_id, id, remaining) "
            "JOIN unnest(%s::bigint[], %s::bigint[]) AS e(member_id, entry_id) USING (member_id)",
            [*params, list(entry_of), list(entry_of.values())],
        )
        return cursor.rowcount


def _expire_entries(
    expiring: list[tuple[Member, int]],
    at: datetime.datetime,
    reason: str,
    *,
    actor: Actor,
) -> list[LedgerEntry]:
    """The entries, balances and events of an expiry: (member, points) each, one entry a
    member."""
    events.tiers_attach([member for member, _ in expiring])
    batch = WriteBatch()
    entries = []
    for member, points in expiring:
        entry = _write(
            member,
            kind=Kind.EXPIRE,
            points=-points,
            at=at,
            source_type=Source.SYSTEM,
            reason=reason,
            touch=False,
            batch=batch,
            actor=actor,
        )
        events.points_publish(
            type=events.EventType.POINTS_EXPIRED, member=member, entry=entry, batch=batch
        )
        entries.append(entry)
    batch.execute()
    return entries
