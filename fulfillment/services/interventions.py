"""What the Fulfillment team does by hand: cancel a redemption, retry its supplier order
now, fail it over to the next offer, deliver a manual supplier's order, and reactivate a
paused supplier. Delivering, failing over and refunding are recorded by
``fulfillment.services.outcomes``, as dispatch records them.

Rows are locked in the order dispatch locks them (``fulfillment.locks``: the
redemption's supplier orders, then the redemption, then the member inside the ledger),
so a staff action and a dispatch run never deadlock. An order that may have been placed
is only given up once the supplier agreed to cancel it. That call is made outside any
transaction, under a lease like a dispatch run's (the order is not due while we ask),
and its outcome is recorded only if the order is still as it was. A queued order whose
lease is running may be being placed by a dispatch run right now: it is left alone until
the lease ends.
"""

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from catalog.alerts import alert_clear
from catalog.models import AlertKind, Supplier
from core.actors import Actor
from core.exceptions import DomainError, InvalidTransition, ReasonRequired
from fulfillment.adapters.base import AdapterConfigError, AdapterError
from fulfillment.exceptions import (
    NoSupplierOrder,
    NotManualOrder,
    OrderChanged,
    OrderInFlight,
    SupplierRefusedCancel,
)
from fulfillment.locks import (
    redemption_lock,
    redemption_lock_with_active_order,
    supplier_order_lock,
)
from fulfillment.models import (
    Redemption,
    RedemptionStatus,
    SupplierOrder,
    SupplierOrderStatus,
)
from fulfillment.models.redemptions import OPEN_STATUSES
from fulfillment.services import shipments
from fulfillment.services.dispatch import ACTIVE, LEASE, supplier_adapter
from fulfillment.services.outcomes import (
    order_fail_over,
    redemption_deliver,
    redemption_refund,
    supplier_order_set,
)
from fulfillment.services.redemptions import stock_release
from fulfillment.services.transitions import redemption_event_record, redemption_may_move

logger = logging.getLogger("fulfillment.interventions")

SOURCE = "staff"
MANUAL_ADAPTER = "manual"


# -- locks and checks --------------------------------------------------------------------


def _lock(redemption_id: int) -> tuple[SupplierOrder | None, Redemption]:
    return redemption_lock_with_active_order(redemption_id, active=ACTIVE)


def _require_move(redemption: Redemption, to: str) -> None:
    # Asked before the supplier is asked to cancel: a move the state machine would refuse
    # must not cost the order first. (Staying failed, one more fail-over, is allowed.)
    if not redemption_may_move(redemption=redemption, to_status=to):
        raise InvalidTransition(
            f"A {redemption.get_status_display().lower()} redemption cannot become {to}.",
            field="status",
        )


def _require_open(redemption: Redemption) -> None:
    if redemption.status not in OPEN_STATUSES:
        raise InvalidTransition(
            f"The redemption is {redemption.status}: there is nothing left to do.",
            field="status",
        )


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why.", field="reason")
    return reason[:400]


def _in_flight(order: SupplierOrder, now: datetime.datetime) -> bool:
    """A queued order whose lease may be running: a dispatch run may be placing it.

    A claim pushes ``next_try_at`` a lease ahead without saving the row, so a leased
    row's ``next_try_at`` is at least a lease past its ``updated_at``; a back-off shorter
    than a lease is saved with the row and never looks like one."""
    return (
        order.status == SupplierOrderStatus.QUEUED
        and order.next_try_at is not None
        and now < order.next_try_at <= now + LEASE
        and order.next_try_at - order.updated_at >= LEASE
    )


def _refuse_in_flight(order: SupplierOrder, now: datetime.datetime) -> None:
    if _in_flight(order, now):
        assert order.next_try_at is not None
        raise OrderInFlight(
            f"A dispatch run may be placing {order.idempotency_key} right now; try again "
            f"after {timezone.localtime(order.next_try_at):%H:%M:%S %Z}."
        )


# -- giving up an order that may be placed ---------------------------------------------


@dataclass(frozen=True)
class _Held:
    order_id: int
    status: str


def _stop_active(
    redemption: Redemption, *, to: str, now: datetime.datetime
) -> tuple[SupplierOrder | None, Redemption, _Held | None]:
    """Lock the rows and check the move. An order that may be placed is leased for the
    supplier call and returned as held; the caller cancels it with the supplier and then
    calls ``_relock``. Otherwise the locked rows come back, ready to change."""
    order, locked = _lock(redemption.pk)
    _require_move(locked, to)
    if order is None or order.status == SupplierOrderStatus.QUEUED:
        if order is not None:
            _refuse_in_flight(order, now)
        return order, locked, None
    if not order.supplier_ref:
        raise SupplierRefusedCancel(
            f"{order.idempotency_key}: the supplier has not said whether it placed the order, "
            "so it cannot be cancelled yet. Retry now to ask it, then try again."
        )
    SupplierOrder.objects.filter(pk=order.pk).update(next_try_at=now + LEASE)
    return order, locked, _Held(order_id=order.pk, status=order.status)


def _cancel_with_supplier(held: _Held) -> None:
    """Ask the supplier to cancel a held order; refuse (and make it due again) if it
    would not or could not answer."""
    order = SupplierOrder.objects.select_related("supplier").get(pk=held.order_id)
    try:
        cancelled = supplier_adapter(order.supplier).cancel(order.supplier_ref)
        problem = "" if cancelled else "the supplier says it can no longer be cancelled"
    except (AdapterError, AdapterConfigError) as exc:
        problem = str(exc)
    except Exception as exc:  # a supplier call must not leave the lease behind
        logger.exception("cancel failed: %s", order.idempotency_key)
        problem = f"unexpected error: {exc!r}"
    if problem:
        SupplierOrder.objects.filter(pk=order.pk, status=held.status).update(
            next_try_at=timezone.now()
        )
        raise SupplierRefusedCancel(f"{order.idempotency_key} ({order.supplier}): {problem}.")


def _relock(redemption: Redemption, held: _Held, *, to: str) -> tuple[SupplierOrder, Redemption]:
    order, locked = _lock(redemption.pk)
    if order is None or order.pk != held.order_id or order.status != held.status:
        raise OrderChanged(
            "The supplier cancelled the order, but it changed meanwhile; dispatch will "
            "settle it. Look at the redemption again."
        )
    _require_move(locked, to)
    return order, locked


def _with_active(
    redemption: Redemption,
    *,
    to: str,
    apply: Callable[[SupplierOrder | None, Redemption, datetime.datetime], None],
) -> Redemption:
    """Run ``apply`` on the locked active order and redemption once the order is safe to
    give up: queued (and not being placed), or cancelled with the supplier in between
    two transactions."""
    now = timezone.now()
    with transaction.atomic():
        order, locked, held = _stop_active(redemption, to=to, now=now)
        if held is None:
            apply(order, locked, now)
            return locked
    _cancel_with_supplier(held)
    with transaction.atomic():
        order, locked = _relock(redemption, held, to=to)
        apply(order, locked, timezone.now())
    return locked


# -- services ----------------------------------------------------------------------------


def redemption_cancel(*, redemption: Redemption, reason: str, actor: Actor) -> Redemption:
    """Cancel an open redemption: stop its supplier order (cancelled with the supplier
    when it may be placed), give the stock back and the points back, once."""
    reason = _reason(reason)

    def apply(order: SupplierOrder | None, locked: Redemption, now: datetime.datetime) -> None:
        if order is not None:
            supplier_order_set(
                order=order,
                status=SupplierOrderStatus.FAILED,
                completed_at=now,
                last_error=f"cancelled by staff: {reason}"[:500],
            )
            stock_release(order=order)
        redemption_refund(
            redemption=locked,
            reason=f"cancelled by staff: {reason}",
            source=SOURCE,
            at=now,
            status=RedemptionStatus.CANCELLED,
            actor=actor,
        )

    return _with_active(redemption, to=RedemptionStatus.CANCELLED, apply=apply)


def redemption_fail_over(*, redemption: Redemption, reason: str, actor: Actor) -> Redemption:
    """Give up the active supplier order and try the reward's next offer, or refund the
    points when none is left. An order that may be placed is cancelled with the supplier
    first; if it says no, nothing changes."""
    reason = _reason(reason)

    def apply(order: SupplierOrder | None, locked: Redemption, now: datetime.datetime) -> None:
        if order is None:
            # Open but nothing active (an order failed and nothing replaced it).
            order = locked.supplier_orders.order_by("-attempt").first()
            if order is None:
                raise NoSupplierOrder()
        order.last_error = f"failed over by staff: {reason}"[:500]
        order_fail_over(
            order=order,
            redemption=locked,
            reason=f"by staff: {reason}",
            source=SOURCE,
            now=now,
            actor=actor,
        )

    return _with_active(redemption, to=RedemptionStatus.FAILED, apply=apply)


def redemption_retry_now(*, redemption: Redemption, actor: Actor) -> SupplierOrder:
    """Make the active supplier order due now, with the same key (a placement repeated
    with it never buys twice; an unknown outcome is looked up first)."""
    now = timezone.now()
    with transaction.atomic():
        order, locked = _lock(redemption.pk)
        _require_open(locked)
        if order is None:
            raise NoSupplierOrder()
        _refuse_in_flight(order, now)
        SupplierOrder.objects.filter(pk=order.pk).update(next_try_at=now, updated_at=now)
        order.next_try_at = now
        redemption_event_record(
            redemption=locked,
            field="supplier_order",
            from_value=order.status,
            to_value="retry_now",
            source=SOURCE,
            note=order.idempotency_key,
            actor=actor,
        )
    return order


def manual_order_deliver(
    *,
    supplier_order: SupplierOrder,
    codes: list[dict[str, Any]] | None,
    tracking: dict[str, Any] | None,
    actor: Actor,
) -> Redemption:
    """Complete a manual supplier's submitted order: store the codes (encrypted) and/or
    record its shipment with the tracking, and mark the order and the redemption
    delivered.

    ``codes``: one ``{"code", "pin"?, "claim_url"?, "expires_on"?}`` per unit.
    ``tracking``: ``{"carrier", "number", "url"?}``."""
    cleaned_codes = [_clean_code(code) for code in codes or []]
    cleaned_tracking = _clean_tracking(tracking) if tracking else None
    if not cleaned_codes and cleaned_tracking is None:
        raise DomainError("Give the code(s), the tracking, or both.", field="codes")
    now = timezone.now()
    with transaction.atomic():
        order = supplier_order_lock(supplier_order.pk)
        redemption = redemption_lock(order.redemption_id)
        supplier = order.supplier
        if supplier.adapter != MANUAL_ADAPTER:
            raise NotManualOrder(f"{supplier} is not a manual supplier ({supplier.adapter}).")
        if order.status != SupplierOrderStatus.SUBMITTED:
            raise NotManualOrder(f"{order.idempotency_key} is {order.status}, not submitted.")
        _require_move(redemption, RedemptionStatus.DELIVERED)
        if cleaned_codes and len(cleaned_codes) != redemption.quantity:
            raise DomainError(
                f"One code per unit: {redemption.quantity} expected, {len(cleaned_codes)} given.",
                field="codes",
            )
        parts = [f"{len(cleaned_codes)} code(s)"] if cleaned_codes else []
        if cleaned_tracking is not None:
            parts.append("shipped")
        redemption_deliver(
            redemption=redemption,
            supplier_order=order,
            codes=cleaned_codes,
            at=now,
            source=SOURCE,
            note=f"{order.idempotency_key} delivered by hand: {', '.join(parts)}",
            actor=actor,
        )
        if cleaned_tracking is not None:
            shipments.shipment_add(
                redemption=redemption,
                carrier=cleaned_tracking.carrier,
                tracking_number=cleaned_tracking.number,
                tracking_url=cleaned_tracking.url,
                supplier_order=order,
                actor=actor,
            )
    return redemption


def _clean_code(raw: dict[str, Any]) -> dict[str, Any]:
    code = str(raw.get("code") or "").strip()
    if not code:
        raise DomainError("Every code needs its code.", field="codes")
    expires_on = raw.get("expires_on") or None
    if isinstance(expires_on, str):
        parsed = parse_date(expires_on)
        if parsed is None:
            raise DomainError(f"Not a date: {expires_on!r}.", field="expires_on")
        expires_on = parsed
    return {
        "code": code,
        "pin": str(raw.get("pin") or "").strip(),
        "claim_url": str(raw.get("claim_url") or "").strip(),
        "expires_on": expires_on,
    }


def _clean_tracking(raw: dict[str, Any]) -> shipments.TrackingInput:
    return shipments.tracking_clean(
        carrier=raw.get("carrier") or "", number=raw.get("number") or "", url=raw.get("url") or ""
    )


def supplier_activate(*, supplier: Supplier, actor: Actor) -> bool:
    """Take a paused supplier back into use and close its pause alert; False when it was
    active already."""
    with transaction.atomic():
        activated = Supplier.objects.filter(pk=supplier.pk, is_active=False).update(
            is_active=True, updated_at=timezone.now()
        )
        alert_clear(kind=AlertKind.SUPPLIER_PAUSED, subject=f"supplier:{supplier.pk}", actor=actor)
    supplier.is_active = True
    return bool(activated)
