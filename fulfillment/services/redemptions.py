"""Redemptions: a member spends points on a reward.

``redemption_create`` does everything in one transaction, under the member's row lock:
checks the member may redeem the reward (catalog, country, tier, limits), debits the
points through the ledger, takes the stock (``stock_reserve``), records what was bought
(reward, face value, point price, the rate used) and writes the first supplier order,
which the dispatch job picks up. Nothing is bought before that commits, and a failure
anywhere writes nothing.

Stock is taken in that transaction, with conditional updates, so exactly as many
redemptions are accepted as there are units; the others are ``OutOfStock`` (409),
whatever made the reward unavailable (sold out, codes reserved or expired, offers
paused). An offer that counts its stock gives up units with ``UPDATE ... WHERE stock >=
quantity``; a code pool reserves its codes for the supplier order that will deliver
them. What a supplier order holds goes back (``stock_release``) when it is given up
before delivery: cancelled, failed over, refunded. Stock is taken last, after the
points, so the row locks it holds last only until the commit that follows.
"""

import datetime
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from catalog import denominations, pools, selectors
from catalog import services as catalog_services
from catalog.models import Reward, SupplierOffer
from core import formatting
from core.actors import Actor, actor_user
from core.exceptions import DomainError
from fulfillment import events
from fulfillment.enqueue import dispatch_when_committed
from fulfillment.exceptions import (
    InvalidDenomination,
    InvalidRecipient,
    OutOfStock,
    RedemptionLimitReached,
    RewardNotAvailable,
)
from fulfillment.models import (
    Redemption,
    RedemptionStatus,
    SupplierOrder,
)
from fulfillment.models.redemptions import OPEN_STATUSES
from fulfillment.recipients import validate as validate_recipient
from fulfillment.services.transitions import redemption_created_record
from loyalty import ledger, locks
from loyalty import selectors as loyalty_selectors
from loyalty.achievements import services as achievements
from loyalty.achievements.terms import Happening
from loyalty.exceptions import MemberNotActive
from loyalty.models import LedgerEntry, MemberStatus
from loyalty.recording import Recorded, replay, request_digest
from loyalty.services.programs import program_get_active
from merchants.models import Merchant

MAX_QUANTITY = 10


@dataclass(frozen=True)
class RedemptionInput:
    member_external_id: str
    reward_id: int
    value: Decimal
    quantity: int = 1
    recipient: dict[str, Any] = field(default_factory=dict)
    external_id: str = ""


def redemption_create(*, merchant: Merchant, data: RedemptionInput, actor: Actor) -> Recorded:
    """Spend the member's points on a reward; returns the redemption (or the first one
    with the same ``external_id``: a replay)."""
    digest = request_digest(asdict(data))
    if data.external_id:
        existing = Redemption.objects.filter(
            merchant=merchant, external_id=data.external_id
        ).first()
        if existing is not None:
            return replay(existing, digest, "Redemption")
    if not 1 <= data.quantity <= MAX_QUANTITY:
        raise DomainError(f"quantity runs from 1 to {MAX_QUANTITY}.", field="quantity")
    member = loyalty_selectors.member_get(
        merchant=merchant, external_id=data.member_external_id, field="member"
    )
    try:
        with transaction.atomic():
            redemption = _create(merchant, member.pk, data, digest, actor)
    except IntegrityError:
        if not data.external_id:
            raise
        existing = Redemption.objects.filter(
            merchant=merchant, external_id=data.external_id
        ).first()
        if existing is None:
            raise
        return replay(existing, digest, "Redemption")
    return Recorded(obj=redemption, replayed=False)


def _create(
    merchant: Merchant, member_id: int, data: RedemptionInput, digest: str, actor: Actor
) -> Redemption:
    now = timezone.now()
    # The member's lock serialises their redemptions: limits and balance are read under it.
    member = locks.member_lock(member_id)
    if member.status != MemberStatus.ACTIVE:
        raise MemberNotActive(f"The member is {member.status}.", field="member")
    program = program_get_active(merchant=merchant)
    item = (
        selectors.catalog_for_member(merchant=merchant, member=member, in_stock=False)
        .filter(reward_id=data.reward_id)
        .first()
    )
    if item is None:
        raise RewardNotAvailable("No such reward for this member.", field="reward")
    reward = item.reward
    rule = denominations.of_reward(reward)
    if not rule.allows(data.value):
        raise InvalidDenomination(
            f"{reward.name} comes in {denominations.describe(rule)}.",
            field="denomination",
        )
    country = selectors.member_country(merchant=merchant, member=member)
    recipient, errors = validate_recipient(list(reward.recipient_fields), data.recipient, country)
    if errors:
        name, message = next(iter(errors.items()))
        raise InvalidRecipient(message, field=name, field_errors=errors)
    _check_limits(item, member.pk, data.quantity, now)
    points_each = catalog_services.unit_price(item=item, program=program, value=data.value)
    points_total = points_each * data.quantity

    redemption = Redemption(
        merchant=merchant,
        member=member,
        external_id=data.external_id,
        request_hash=digest,
        reward=reward,
        catalog_item=item,
        country=country,
        face_value=data.value,
        face_currency=reward.face_currency,
        quantity=data.quantity,
        points_each=points_each,
        points_total=points_total,
        program_currency=program.currency,
        point_value=program.point_value,
        rate_used=item.rate_used,
        exchange_rate_id=item.exchange_rate_id,
        recipient=recipient,
    )
    redemption.spend_entry = ledger.points_spend(
        member=member,
        points=points_total,
        at=now,
        source_type=LedgerEntry.Source.REDEMPTION,
        source_ref=str(redemption.public_id),
        reason=f"{data.quantity} x {reward.name} "
        f"{formatting.money(data.value, reward.face_currency, locale='en')}",
        actor=actor,
    )
    reservation = stock_reserve(
        reward=reward,
        country=country,
        value=data.value,
        quantity=data.quantity,
        reserved_for=supplier_order_key(redemption=redemption, attempt=1),
        now=now,
    )
    if reservation is None:
        raise OutOfStock("No supplier has enough of it in stock.", field="quantity")
    redemption.save(force_insert=True)
    redemption_created_record(
        redemption=redemption,
        note=f"{points_total} points",
        source="staff" if actor_user(actor) else "member" if actor.kind == "member" else "api",
        actor=actor,
    )
    first_order_write(redemption=redemption, reservation=reservation, now=now)
    achievements.member_event_record(
        member=member,
        happening=Happening(trigger="redemption", at=now, points=points_total),
        source=f"redemption:{redemption.pk}",
        label=f"redemption of {reward.name}",
        now=now,
        actor=actor,
    )
    events.redemption_publish(
        redemption=redemption, type=events.EventType.REDEMPTION_CREATED, at=now
    )
    return redemption


@dataclass(frozen=True)
class Reservation:
    """Stock taken for one supplier order: ``units`` of ``offer`` (the offer's counted
    stock, or codes of its pool reserved for ``reserved_for``; 0 for unlimited stock)."""

    offer: SupplierOffer
    units: int
    reserved_for: str


def first_order_write(
    *,
    redemption: Redemption,
    reservation: Reservation,
    now: datetime.datetime,
) -> SupplierOrder:
    """The redemption's first supplier order, holding what ``reservation`` took (made
    with this order's key), sent to dispatch once the caller's transaction commits (the
    scheduled run picks it up if that message is lost)."""
    key = supplier_order_key(redemption=redemption, attempt=1)
    if reservation.reserved_for != key:
        raise ValueError(f"the stock was reserved for {reservation.reserved_for}, not {key}")
    order = SupplierOrder.objects.create(
        redemption=redemption,
        offer=reservation.offer,
        supplier_id=reservation.offer.supplier_id,
        attempt=1,
        idempotency_key=key,
        stock_reserved=reservation.units,
        next_try_at=now,
    )
    dispatch_when_committed(redemption.pk)
    return order


def supplier_order_key(*, redemption: Redemption, attempt: int) -> str:
    """The key a supplier sees for an attempt: the same on every call of that attempt."""
    return f"rdm-{redemption.public_id.hex}-{attempt}"


def _check_limits(item, member_id: int, quantity: int, now: datetime.datetime) -> None:
    if item.limit_per_month is None and item.limit_ever is None:
        return
    taken = Redemption.objects.filter(
        member_id=member_id,
        reward_id=item.reward_id,
        status__in=[*OPEN_STATUSES, RedemptionStatus.DELIVERED],
    )
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    totals = taken.aggregate(
        ever=Sum("quantity"), month=Sum("quantity", filter=Q(created_at__gte=month_start))
    )
    for limit, used, period in (
        (item.limit_ever, totals["ever"] or 0, "in all"),
        (item.limit_per_month, totals["month"] or 0, "this month"),
    ):
        if limit is not None and used + quantity > limit:
            raise RedemptionLimitReached(
                f"At most {limit} of this reward {period}; {used} already redeemed.",
                field="quantity",
                limit=limit,
                used=used,
            )


def stock_reserve(
    *,
    reward: Reward,
    country: str,
    value: Decimal,
    quantity: int,
    reserved_for: str,
    now: datetime.datetime,
    exclude: set[int] | frozenset[int] = frozenset(),
) -> Reservation | None:
    """Take ``quantity`` units for the supplier order keyed ``reserved_for`` from the
    cheapest offer that has them (not in ``exclude``), in the caller's transaction; None
    when no offer can deliver. An offer with a code pool (of this face value) reserves
    its free codes (two statements), one that counts its stock gives up units in one
    conditional ``UPDATE`` (two redemptions of the last unit: one wins), one with
    unlimited stock takes nothing."""
    for offer in selectors.offers_for_delivery(
        reward=reward, country=country, face_value=value, at=now
    ):
        if offer.pk in exclude:
            continue
        pool = getattr(offer, "code_pool", None)
        if pool is not None:
            if pool.face_value == value and pools.codes_reserve(
                pool_id=pool.pk, quantity=quantity, reserved_for=reserved_for, at=now
            ):
                return Reservation(offer=offer, units=quantity, reserved_for=reserved_for)
            continue
        if offer.stock is None:
            return Reservation(offer=offer, units=0, reserved_for=reserved_for)
        taken = SupplierOffer.objects.filter(pk=offer.pk, stock__gte=quantity).update(
            stock=F("stock") - quantity
        )
        if taken:
            return Reservation(offer=offer, units=quantity, reserved_for=reserved_for)
    return None


def stock_release(*, order: SupplierOrder) -> None:
    """Give back what ``order`` took (once): its pool's codes reserved for it and not
    delivered, or its units of the offer's counted stock."""
    if not order.stock_reserved:
        return
    pools.codes_release(reserved_for=order.idempotency_key)
    # A pool offer's units are its codes: its ``stock`` column is not what was taken.
    SupplierOffer.objects.filter(pk=order.offer_id, code_pool__isnull=True).update(
        stock=F("stock") + order.stock_reserved
    )
    order.stock_reserved = 0
    order.save(update_fields=["stock_reserved"])
