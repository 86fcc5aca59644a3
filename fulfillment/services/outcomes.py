"""How a redemption's supplier order ends, whoever records it: a dispatch run with the
supplier's answer, or the Fulfillment team by hand.

- ``redemption_deliver``: the codes stored, the order and the redemption delivered, the
  usage billed, the member emailed once it commits; ``redemptions_deliver`` does the
  same for a dispatch run's batch in a fixed number of statements (one insert of the
  codes, one statement for the orders, the events and the webhook events, one update of
  the redemptions, one insert of the usage records), whatever the batch's size;
- ``order_fail_over``: the order given up (its stock back) and the reward's next offer
  tried, or, when none is left, ``redemption_refund``;
- ``redemption_refund``: the points given back (once: the ledger refuses a second refund
  of the spend) and the redemption closed, refunded or cancelled.

The caller holds the locks on the supplier order and the redemption (in that order, see
``fulfillment.locks``) and has made sure the supplier did not, or no longer, place what
is given up. Status moves go through ``redemption_transition``.
"""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from core.actors import Actor
from core.hooks import app_hooks
from fulfillment import events
from fulfillment.billing import BillingCache, redemptions_bill
from fulfillment.enqueue import delivery_email_when_committed
from fulfillment.models import (
    DeliveredCode,
    Redemption,
    RedemptionStatus,
    SupplierOrder,
    SupplierOrderStatus,
)
from fulfillment.services.redemptions import stock_release, stock_reserve, supplier_order_key
from fulfillment.services.transitions import (
    RedemptionMove,
    redemption_transition,
    redemptions_transition,
)
from loyalty import ledger
from loyalty.achievements import services as achievements
from loyalty.batch import WriteBatch

FAILED_OVER = "failed_over"
REFUNDED = "refunded"
# What delivering writes to a supplier order: the outcome, and what the caller noted from
# the supplier's answer (the call counted, its reference, when it was first accepted).
DELIVERED_ORDER_FIELDS = (
    "status",
    "completed_at",
    "cost",
    "cost_currency",
    "error_kind",
    "last_error",
    "tries",
    "supplier_ref",
    "submitted_at",
    "updated_at",  # auto_now: set as the batch is written
)


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One supplier order of ``redemptions_deliver``, its redemption and what arrived:
    one ``{"code", "pin", "claim_url", "expires_on"}`` per unit, or none for a parcel."""

    redemption: Redemption
    supplier_order: SupplierOrder
    codes: Sequence[dict[str, Any]]
    source: str
    note: str
    cost: Decimal | None = None


def supplier_order_set(*, order: SupplierOrder, status: str, **fields: Any) -> None:
    """Save ``order`` with its new status and ``fields`` (the caller holds its lock)."""
    order.status = status
    for name, value in fields.items():
        setattr(order, name, value)
    order.save()


def redemption_deliver(
    *,
    redemption: Redemption,
    supplier_order: SupplierOrder,
    codes: Iterable[dict[str, Any]],
    at: datetime.datetime,
    source: str,
    note: str,
    cost: Decimal | None = None,
    billing: BillingCache | None = None,
    actor: Actor,
) -> Redemption:
    """Mark ``supplier_order`` and ``redemption`` delivered with ``codes`` (one
    ``{"code", "pin", "claim_url", "expires_on"}`` per unit, or none for a parcel),
    bill the delivery and queue the member's email for the commit."""
    redemptions_deliver(
        deliveries=[
            Delivery(
                redemption=redemption,
                supplier_order=supplier_order,
                codes=list(codes),
                source=source,
                note=note,
                cost=cost,
            )
        ],
        at=at,
        billing=billing,
        actor=actor,
    )
    return redemption


def redemptions_deliver(
    *,
    deliveries: Sequence[Delivery],
    at: datetime.datetime,
    billing: BillingCache | None = None,
    actor: Actor,
) -> None:
    """Mark every order of ``deliveries`` and its redemption (one order a redemption)
    delivered with its codes, bill them and queue the members' emails for the commit.
    The caller holds the locks of the orders and the redemptions; the orders carry their
    offers, the redemptions their merchant, member (with tier) and reward. The rows of
    the whole batch are written together: the same statements for one or a hundred."""
    if not deliveries:
        return
    # The codes on their own: the batch's one-statement write passes text as it is, and
    # the codes' field encrypts on the way to the database.
    DeliveredCode.objects.bulk_create(
        DeliveredCode(
            redemption=delivery.redemption, supplier_order=delivery.supplier_order, **code
        )
        for delivery in deliveries
        for code in delivery.codes
    )
    batch = WriteBatch()
    for delivery in deliveries:
        order = delivery.supplier_order
        order.status = SupplierOrderStatus.DELIVERED
        order.completed_at = at
        order.cost = delivery.cost
        order.cost_currency = order.offer.cost_currency if delivery.cost is not None else ""
        order.error_kind = order.last_error = ""
        batch.update(order, DELIVERED_ORDER_FIELDS)
    redemptions_transition(
        moves=[
            RedemptionMove(redemption=d.redemption, reason=d.note, source=d.source)
            for d in deliveries
        ],
        to_status=RedemptionStatus.DELIVERED,
        changes={"delivered_at": at, "closed_at": at},
        batch=batch,
        actor=actor,
    )
    redemptions_bill(
        delivered=[(d.redemption, d.supplier_order) for d in deliveries], at=at, cache=billing
    )
    for delivery in deliveries:
        events.redemption_publish(
            redemption=delivery.redemption,
            type=events.EventType.REDEMPTION_DELIVERED,
            at=at,
            batch=batch,
        )
        delivery_email_when_committed(delivery.redemption.pk)
    batch.execute()


def order_fail_over(
    *,
    order: SupplierOrder,
    redemption: Redemption,
    reason: str,
    source: str,
    now: datetime.datetime,
    actor: Actor,
) -> str:
    """Give ``order`` up and place the redemption with the reward's next offer, or
    refund the points when none is left; ``FAILED_OVER`` or ``REFUNDED``."""
    supplier_order_set(order=order, status=SupplierOrderStatus.FAILED, completed_at=now)
    stock_release(order=order)
    tried = set(redemption.supplier_orders.values_list("offer_id", flat=True))
    attempt = order.attempt + 1
    reservation = stock_reserve(
        reward=redemption.reward,
        country=str(redemption.country),
        value=redemption.face_value,
        quantity=redemption.quantity,
        reserved_for=supplier_order_key(redemption=redemption, attempt=attempt),
        now=now,
        exclude=tried,
    )
    if reservation is None:
        redemption_refund(
            redemption=redemption,
            reason=f"not delivered: {reason}",
            source=source,
            at=now,
            actor=actor,
        )
        return REFUNDED
    SupplierOrder.objects.create(
        redemption=redemption,
        offer=reservation.offer,
        supplier_id=reservation.offer.supplier_id,
        attempt=attempt,
        idempotency_key=reservation.reserved_for,
        stock_reserved=reservation.units,
        next_try_at=now,
    )
    redemption_transition(
        redemption=redemption,
        to_status=RedemptionStatus.FAILED,
        reason=f"failing over to {reservation.offer.supplier}: {reason}",
        source=source,
        actor=actor,
    )
    return FAILED_OVER


def redemption_refund(
    *,
    redemption: Redemption,
    reason: str,
    source: str,
    at: datetime.datetime,
    status: str = RedemptionStatus.REFUNDED,
    actor: Actor,
) -> Redemption:
    """Give the points back and close the redemption as ``status`` (refunded, or
    cancelled by staff); a refund the member did not ask for needs customer care."""
    refund_entry = ledger.points_refund_spend(
        spend_entry=redemption.spend_entry,
        reason=reason[:500],
        at=at,
        source_ref=str(redemption.public_id),
        actor=actor,
    )
    achievements.source_reverse(
        merchant_id=redemption.merchant_id, source=f"redemption:{redemption.pk}", at=at
    )
    changes: dict[str, Any] = {"refund_entry": refund_entry, "closed_at": at}
    if status == RedemptionStatus.REFUNDED:
        changes |= {"needs_care": True, "care_reason": reason[:300]}
    redemption_transition(
        redemption=redemption,
        to_status=status,
        reason=reason,
        source=source,
        changes=changes,
        actor=actor,
    )
    events.redemption_publish(
        redemption=redemption, type=events.EventType.REDEMPTION_REFUNDED, at=at, reason=reason
    )
    if status == RedemptionStatus.REFUNDED:
        redemption_id = redemption.pk
        transaction.on_commit(lambda: needs_care_hooks(redemption_id))
    return redemption


def needs_care_hooks(redemption_id: int) -> None:
    """Tell the apps that care (customer care opens a ticket) after the refund commits;
    their own sweep catches what a crash here loses."""
    for hook in app_hooks("on_redemption_needs_care"):
        hook(redemption_id=redemption_id)
