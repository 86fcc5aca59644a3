"""The redemption state machine: the one place a redemption's status changes and the one
writer of its events.

``redemption_transition`` checks the move against ``REDEMPTION_TRANSITIONS`` and applies
it as a compare-and-swap (``filter(pk=..., status=old).update(status=new, ...)``): when
no row matches, someone else moved the redemption first, and the caller gets
``InvalidTransition`` rather than a second move. The fields that change with the status
(the refund entry, the closing time) are written in the same ``UPDATE``, so a database
constraint that ties them to the status never sees one without the other. Every move
writes one ``RedemptionEvent`` naming the actor: the user, the API key, or the job.

An open redemption asked to stay where it is (an order retried, or failed over again,
while the redemption is already failed) is no move: its other fields are written, and no
event. The rows that record other changes of a redemption (its delivery status, a
retry, a reissue, a shipment) are written by ``redemption_event_record``, beside it.

``redemptions_transition`` makes the same move for many redemptions at once (a dispatch
run's deliveries): one compare-and-swap ``UPDATE`` per status they move from, and their
events in one insert. The caller holds their row locks, so a row that does not match is
a bug, not a race; it raises ``InvalidTransition`` and the caller's transaction rolls
back, so no redemption of the batch moves without the others.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from core.actors import Actor, actor_api_key_id, actor_label, actor_user
from core.exceptions import InvalidTransition
from fulfillment.models import Redemption, RedemptionEvent
from fulfillment.models.redemptions import OPEN_STATUSES, REDEMPTION_TRANSITIONS
from loyalty.batch import WriteBatch

STATUS = "status"


@dataclass(frozen=True, kw_only=True)
class RedemptionMove:
    """One redemption of ``redemptions_transition``, with its event's note and source."""

    redemption: Redemption
    reason: str
    source: str


def redemption_may_move(*, redemption: Redemption, to_status: str) -> bool:
    """Whether ``to_status`` is a move ``redemption`` may make now (or an open one's stay)."""
    current = redemption.status
    if current == to_status:
        return current in OPEN_STATUSES
    return to_status in REDEMPTION_TRANSITIONS.get(current, ())


def redemption_transition(
    *,
    redemption: Redemption,
    to_status: str,
    reason: str,
    source: str,
    changes: dict[str, Any] | None = None,
    actor: Actor,
) -> Redemption:
    """Move ``redemption`` to ``to_status`` (with ``changes`` to its other fields, in the
    same update) and record the event; ``InvalidTransition`` when the map does not allow
    the move or another writer moved it first. ``redemption`` is updated in place."""
    from_status = redemption.status
    if not redemption_may_move(redemption=redemption, to_status=to_status):
        raise InvalidTransition(
            f"A {from_status} redemption cannot become {to_status}.",
            field="status",
            from_status=from_status,
            to_status=to_status,
        )
    fields = {**(changes or {}), "status": to_status, "updated_at": timezone.now()}
    moved = Redemption.objects.filter(pk=redemption.pk, status=from_status).update(**fields)
    if not moved:
        current = (
            Redemption.objects.filter(pk=redemption.pk).values_list("status", flat=True).first()
        )
        raise InvalidTransition(
            f"The redemption became {current} meanwhile; it cannot become {to_status}.",
            field="status",
            from_status=current or "",
            to_status=to_status,
        )
    for name, value in fields.items():
        setattr(redemption, name, value)
    if to_status != from_status:
        _event_write(
            redemption,
            field=STATUS,
            from_value=from_status,
            to_value=to_status,
            source=source,
            note=reason,
            actor=actor,
        )
    return redemption


def redemptions_transition(
    *,
    moves: Sequence[RedemptionMove],
    to_status: str,
    changes: dict[str, Any] | None = None,
    batch: WriteBatch | None = None,
    actor: Actor,
) -> None:
    """Move every redemption of ``moves`` (each once, locked by the caller) to
    ``to_status`` with the same ``changes``, and record their events: inserted at once, or
    queued in ``batch`` for the caller to execute. ``InvalidTransition`` when one of them
    may not move (then none is moved). The redemptions are updated in place."""
    by_status: dict[str, list[int]] = defaultdict(list)
    for move in moves:
        redemption = move.redemption
        if not redemption_may_move(redemption=redemption, to_status=to_status):
            raise InvalidTransition(
                f"A {redemption.status} redemption cannot become {to_status}.",
                field="status",
                from_status=redemption.status,
                to_status=to_status,
            )
        by_status[redemption.status].append(redemption.pk)
    fields = {**(changes or {}), "status": to_status, "updated_at": timezone.now()}
    for from_status, pks in by_status.items():
        moved = Redemption.objects.filter(pk__in=pks, status=from_status).update(**fields)
        if moved != len(pks):
            raise InvalidTransition(
                f"{len(pks) - moved} of {len(pks)} {from_status} redemptions moved meanwhile; "
                f"none becomes {to_status}.",
                field="status",
                from_status=from_status,
                to_status=to_status,
            )
    events = []
    for move in moves:
        redemption = move.redemption
        from_status = redemption.status
        for name, value in fields.items():
            setattr(redemption, name, value)
        if to_status != from_status:
            events.append(
                _event(
                    redemption,
                    field=STATUS,
                    from_value=from_status,
                    to_value=to_status,
                    source=move.source,
                    note=move.reason,
                    actor=actor,
                )
            )
    if batch is not None:
        batch.insert_many(events)
    elif events:
        RedemptionEvent.objects.bulk_create(events)


def redemption_created_record(*, redemption: Redemption, note: str, source: str, actor: Actor):
    """The first event of a new redemption: it was made, pending (no move from anywhere)."""
    return _event_write(
        redemption,
        field=STATUS,
        from_value="",
        to_value=redemption.status,
        source=source,
        note=note,
        actor=actor,
    )


def redemption_event_record(
    *,
    redemption: Redemption,
    field: str,
    from_value: str,
    to_value: str,
    source: str,
    note: str,
    actor: Actor,
) -> RedemptionEvent:
    """An event for a change other than the status (delivery, shipment, retry, reissue):
    the status has its own function above."""
    if field == STATUS:
        raise ValueError("a status change goes through redemption_transition")
    return _event_write(
        redemption,
        field=field,
        from_value=from_value,
        to_value=to_value,
        source=source,
        note=note,
        actor=actor,
    )


def _event_write(
    redemption: Redemption,
    *,
    field: str,
    from_value: str,
    to_value: str,
    source: str,
    note: str,
    actor: Actor,
) -> RedemptionEvent:
    event = _event(
        redemption,
        field=field,
        from_value=from_value,
        to_value=to_value,
        source=source,
        note=note,
        actor=actor,
    )
    event.save(force_insert=True)
    return event


def _event(
    redemption: Redemption,
    *,
    field: str,
    from_value: str,
    to_value: str,
    source: str,
    note: str,
    actor: Actor,
) -> RedemptionEvent:
    return RedemptionEvent(
        redemption=redemption,
        field=field,
        from_value=from_value,
        to_value=to_value,
        source=source[:20],
        actor=actor_user(actor),
        api_key_id=actor_api_key_id(actor),
        actor_label=actor_label(actor)[:150],
        note=(note or "")[:500],
    )
