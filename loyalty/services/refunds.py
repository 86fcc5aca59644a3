"""Refunds: a full or partial refund of an order takes back, in proportion, the points
the order earned."""

from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.actors import Actor
from core.exceptions import DomainError, NotFound
from core.money import points_share, quantize_money
from loyalty import ledger, locks
from loyalty.achievements import services as achievements
from loyalty.exceptions import RefundExceedsOrder
from loyalty.external_ids import is_external_id
from loyalty.models import Order, Refund
from loyalty.recording import Recorded, replay, request_digest
from merchants.models import Merchant


@dataclass(frozen=True)
class RefundInput:
    external_id: str
    amount: Decimal
    currency: str | None = None


def refund_record(
    *, merchant: Merchant, order_external_id: str, data: RefundInput, actor: Actor
) -> Recorded:
    """Record a full or partial refund and take back, in proportion, the points the order
    earned. Cumulative: after refunds adding up to the total, exactly what the order
    earned has been taken back."""
    order = None
    if is_external_id(order_external_id):
        order = Order.objects.filter(merchant=merchant, external_id=order_external_id).first()
    if order is None:
        raise NotFound("No order with that external_id.", field="order")
    digest = request_digest({"order": order_external_id, **asdict(data)})
    existing = Refund.objects.filter(merchant=merchant, external_id=data.external_id).first()
    if existing is not None:
        return replay(existing, digest, "Refund")
    if data.currency and data.currency != order.currency:
        raise DomainError(
            f"Refunds of this order are in {order.currency}, not {data.currency}.", field="currency"
        )
    if data.amount <= 0:
        raise DomainError("amount must be positive.", field="amount")
    if quantize_money(data.amount, order.currency) != data.amount:
        raise DomainError(f"{order.currency} has fewer decimal places than that.", field="amount")
    try:
        with transaction.atomic():
            return _refund_create(order, data, digest, actor)
    except IntegrityError:
        existing = Refund.objects.filter(merchant=merchant, external_id=data.external_id).first()
        if existing is None:
            raise
        return replay(existing, digest, "Refund")


def _refund_create(order: Order, data: RefundInput, digest: str, actor: Actor) -> Recorded:
    # The order row lock serialises refunds of one order; the member lock comes after it,
    # in the ledger, in the same order for every refund.
    order = locks.order_lock(order.pk)
    # A duplicate that waited for the lock finds the first one's refund here.
    existing = Refund.objects.filter(merchant_id=order.merchant_id, external_id=data.external_id)
    if existing.exists():
        return replay(existing.get(), digest, "Refund")
    refunded = order.refunded_total + data.amount
    if refunded > order.total:
        raise RefundExceedsOrder(
            f"Refunds would reach {refunded} of an order of {order.total} {order.currency}.",
            field="amount",
        )
    refund = Refund.objects.create(
        merchant_id=order.merchant_id,
        order=order,
        external_id=data.external_id,
        amount=data.amount,
        request_hash=digest,
    )
    target = points_share(order.points_earned, refunded, order.total)
    points = target - order.points_reversed
    reversal = ledger.points_reverse_for_refund(
        member=order.member,
        order=order,
        refund=refund,
        points=points,
        at=timezone.now(),
        actor=actor,
    )
    order.refunded_total = refunded
    order.points_reversed += max(points, 0)
    order.save(update_fields=["refunded_total", "points_reversed"])
    refund.points_reversed = reversal.reversed
    refund.shortfall = reversal.shortfall
    refund.save(update_fields=["points_reversed", "shortfall"])
    achievements.order_refunded(order=order, at=refund.created_at)
    return Recorded(obj=refund, replayed=False)
