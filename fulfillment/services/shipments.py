"""Shipments of physical rewards: recorded by staff or from a supplier's tracking, then
moved along their pipeline (pending / label created -> shipped -> in transit ->
delivered; returned and lost end it).

A shipment's status changes only in ``shipment_move``, as a compare-and-swap, and every
change (its creation included) is an event of its redemption with ``field="shipment"``.
A change that tells the member something new moves the redemption's ``delivery_status``
too (shipped, received, returned), with its own ``field="delivery"`` event, in the same
transaction; a lost parcel puts the redemption in customer care's queue.

Locks: the redemption first, like dispatch and the staff services (whose supplier-order
locks come before it), so its row serialises everything done to its shipments. A
supplier's tracking is recorded once: the same carrier and number reported again on a
later poll finds the shipment there and changes nothing.
"""

import datetime
import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from core.exceptions import DomainError, InvalidTransition
from fulfillment.adapters.base import Tracking
from fulfillment.locks import redemption_lock
from fulfillment.models import (
    DeliveryStatus,
    Redemption,
    RedemptionStatus,
    Shipment,
    ShipmentSource,
    ShipmentStatus,
    SupplierOrder,
)
from fulfillment.models.shipments import SHIPMENT_INITIAL, SHIPMENT_ON_ITS_WAY, SHIPMENT_TRANSITIONS
from fulfillment.services.transitions import redemption_event_record

logger = logging.getLogger("fulfillment.shipments")

STAFF = "staff"
# A redemption ships once a supplier has its order; not before, and not once given back.
SHIPPABLE = (RedemptionStatus.SUBMITTED, RedemptionStatus.DELIVERED)
DELIVERY_FOR = {
    ShipmentStatus.SHIPPED: DeliveryStatus.SHIPPED,
    ShipmentStatus.IN_TRANSIT: DeliveryStatus.SHIPPED,
    ShipmentStatus.DELIVERED: DeliveryStatus.RECEIVED,
    ShipmentStatus.RETURNED: DeliveryStatus.RETURNED,
}
MAX_CARRIER = 60
MAX_NUMBER = 100
MAX_URL = 300


@dataclass(frozen=True)
class TrackingInput:
    carrier: str
    number: str
    url: str = ""

    def __str__(self) -> str:
        return f"{self.carrier} {self.number}"


def tracking_clean(*, carrier: str, number: str, url: str = "") -> TrackingInput:
    """The tracking, trimmed and checked; ``DomainError`` names the field at fault."""
    carrier, number, url = (str(value or "").strip() for value in (carrier, number, url))
    if not number:
        raise DomainError("A shipment needs its tracking number.", field="tracking_number")
    if not carrier:
        raise DomainError("A tracking number needs its carrier.", field="carrier")
    if len(carrier) > MAX_CARRIER or not carrier.isprintable():
        raise DomainError(f"The carrier: at most {MAX_CARRIER} characters.", field="carrier")
    if len(number) > MAX_NUMBER or not number.isprintable():
        raise DomainError(
            f"The tracking number: at most {MAX_NUMBER} characters.", field="tracking_number"
        )
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise DomainError("An http(s) link.", field="tracking_url") from None
        if len(url) > MAX_URL:
            raise DomainError(f"At most {MAX_URL} characters.", field="tracking_url")
    return TrackingInput(carrier=carrier, number=number, url=url)


# -- services ----------------------------------------------------------------------------


def redemption_ships(redemption: Redemption) -> bool:
    """Whether a parcel may be recorded for it: submitted to a supplier or delivered, to a
    postal address (the reward asked for one). An e-mailed code has nothing to track."""
    recipient = redemption.recipient if isinstance(redemption.recipient, dict) else {}
    return redemption.status in SHIPPABLE and bool(recipient.get("postal_address"))


def shipment_add(
    *,
    redemption: Redemption,
    carrier: str,
    tracking_number: str,
    tracking_url: str = "",
    status: str = ShipmentStatus.SHIPPED,
    supplier_order: SupplierOrder | None = None,
    note: str = "",
    actor: Actor,
) -> Shipment:
    """Record a parcel staff sent or were told about, with its tracking, as pending,
    label created or shipped (the default). A redemption ships once it is submitted to a
    supplier or delivered; the same tracking twice is refused."""
    tracking = tracking_clean(carrier=carrier, number=tracking_number, url=tracking_url)
    if status not in SHIPMENT_INITIAL:
        raise DomainError(
            f"A new shipment starts as one of {', '.join(SHIPMENT_INITIAL)}.", field="status"
        )
    if supplier_order is not None and supplier_order.redemption_id != redemption.pk:
        raise DomainError("That supplier order is another redemption's.", field="supplier_order")
    now = timezone.now()
    with transaction.atomic():
        locked = redemption_lock(redemption.pk)
        if locked.status not in SHIPPABLE:
            raise InvalidTransition(
                f"The redemption is {locked.status}: only one submitted to a supplier or "
                "delivered ships.",
                field="status",
            )
        if _existing(locked, tracking) is not None:
            raise DomainError(
                f"{tracking} is recorded for this redemption already.", field="tracking_number"
            )
        shipment = _create(
            locked,
            tracking,
            status=status,
            supplier_order=supplier_order,
            source=ShipmentSource.STAFF,
            event_source=STAFF,
            note=note,
            actor=actor,
            now=now,
        )
    _mirror(redemption, locked)
    return shipment


def shipment_from_supplier(
    *,
    redemption: Redemption,
    supplier_order: SupplierOrder,
    tracking: Tracking,
    source: str,
    at: datetime.datetime | None = None,
    actor: Actor,
) -> Shipment | None:
    """Record the tracking a supplier reported for ``supplier_order`` as a shipped
    parcel. Idempotent: tracking recorded already (by an earlier poll, or by staff)
    comes back unchanged. Unusable tracking is logged and left out (None): a supplier's
    quirk must not hold up the order's outcome. ``source`` names the supplier in the
    events; a caller holding ``redemption`` unsaved sees its delivery status follow."""
    try:
        cleaned = tracking_clean(carrier=tracking.carrier, number=tracking.number)
    except DomainError as error:
        logger.warning("%s: tracking left out: %s", supplier_order.idempotency_key, error.detail)
        return None
    with transaction.atomic():
        locked = redemption_lock(redemption.pk)
        existing = _existing(locked, cleaned)
        if existing is not None:
            return existing
        shipment = _create(
            locked,
            cleaned,
            status=ShipmentStatus.SHIPPED,
            supplier_order=supplier_order,
            source=ShipmentSource.SUPPLIER,
            event_source=source,
            note=supplier_order.idempotency_key,
            actor=actor,
            now=at or timezone.now(),
        )
    _mirror(redemption, locked)
    return shipment


def shipment_move(
    *,
    shipment: Shipment,
    to: str,
    note: str = "",
    source: str = STAFF,
    at: datetime.datetime | None = None,
    actor: Actor,
) -> Shipment:
    """Move a shipment to ``to`` (``InvalidTransition`` when its pipeline does not go
    there, or when it moved meanwhile), stamp when it shipped or arrived, and keep the
    redemption's delivery status in step."""
    if to not in ShipmentStatus.values:
        raise DomainError(f"Not a shipment status: {str(to)[:40]!r}.", field="status")
    now = at or timezone.now()
    with transaction.atomic():
        redemption = redemption_lock(shipment.redemption_id)
        current = Shipment.objects.get(pk=shipment.pk)
        if to not in SHIPMENT_TRANSITIONS[current.status]:
            raise InvalidTransition(
                f"A shipment that is {current.get_status_display().lower()} cannot become "
                f"{ShipmentStatus(to).label.lower()}.",
                field="status",
            )
        changes: dict = {"status": to, "updated_at": now}
        if to in SHIPMENT_ON_ITS_WAY and current.shipped_at is None:
            changes["shipped_at"] = now
        if to == ShipmentStatus.DELIVERED:
            changes["delivered_at"] = now
        before = current.status
        if not Shipment.objects.filter(pk=current.pk, status=before).update(**changes):
            raise InvalidTransition(
                "The shipment changed meanwhile; look at it again.", field="status"
            )
        for name, value in changes.items():
            setattr(current, name, value)
        _event(
            redemption,
            field="shipment",
            from_value=before,
            to_value=to,
            source=source,
            actor=actor,
            note=_note(current, note),
        )
        _follow(redemption, current, source=source, actor=actor, now=now)
    for name, value in changes.items():
        setattr(shipment, name, value)
    return current


# -- inside the services -------------------------------------------------------------------


def _existing(redemption: Redemption, tracking: TrackingInput) -> Shipment | None:
    return Shipment.objects.filter(
        redemption=redemption, carrier=tracking.carrier, tracking_number=tracking.number
    ).first()


def _address(redemption: Redemption) -> dict:
    recipient = redemption.recipient if isinstance(redemption.recipient, dict) else {}
    address = recipient.get("postal_address")
    return dict(address) if isinstance(address, dict) else {}


def _create(
    redemption: Redemption,
    tracking: TrackingInput,
    *,
    status: str,
    supplier_order: SupplierOrder | None,
    source: str,
    event_source: str,
    note: str,
    actor: Actor,
    now: datetime.datetime,
) -> Shipment:
    shipment = Shipment.objects.create(
        redemption=redemption,
        supplier_order=supplier_order,
        address=_address(redemption),
        carrier=tracking.carrier,
        tracking_number=tracking.number,
        tracking_url=tracking.url,
        status=status,
        source=source,
        shipped_at=now if status in SHIPMENT_ON_ITS_WAY else None,
    )
    _event(
        redemption,
        field="shipment",
        from_value="",
        to_value=status,
        source=event_source,
        actor=actor,
        note=_note(shipment, note),
    )
    _follow(redemption, shipment, source=event_source, actor=actor, now=now)
    return shipment


def _follow(
    redemption: Redemption,
    shipment: Shipment,
    *,
    source: str,
    actor: Actor,
    now: datetime.datetime,
) -> None:
    """Bring the locked redemption's delivery status to where the shipment is; a lost
    parcel needs customer care (sent again, or the points given back)."""
    changes: dict = {}
    target = DELIVERY_FOR.get(shipment.status)
    if target is not None and target != redemption.delivery_status:
        changes["delivery_status"] = target
    if shipment.status == ShipmentStatus.LOST:
        changes["needs_care"] = True
        changes["care_reason"] = f"shipment lost: {shipment.carrier} {shipment.tracking_number}"
    if not changes:
        return
    changes["updated_at"] = now
    Redemption.objects.filter(pk=redemption.pk, delivery_status=redemption.delivery_status).update(
        **changes
    )
    if "delivery_status" in changes:
        _event(
            redemption,
            field="delivery",
            from_value=redemption.delivery_status,
            to_value=target,
            source=source,
            actor=actor,
            note=_note(shipment, ""),
        )
    for name, value in changes.items():
        setattr(redemption, name, value)


def _mirror(caller: Redemption, locked: Redemption) -> None:
    # The caller may save its instance later in the same transaction (dispatch does).
    for name in ("delivery_status", "needs_care", "care_reason", "updated_at"):
        setattr(caller, name, getattr(locked, name))


def _note(shipment: Shipment, note: str) -> str:
    label = f"shipment #{shipment.pk} {shipment.carrier} {shipment.tracking_number}".strip()
    note = (note or "").strip()
    return f"{label}: {note}"[:500] if note else label[:500]


def _event(
    redemption: Redemption,
    *,
    field: str,
    from_value: str,
    to_value: str,
    source: str,
    actor: Actor,
    note: str,
) -> None:
    redemption_event_record(
        redemption=redemption,
        field=field,
        from_value=from_value,
        to_value=to_value,
        source=source,
        note=note,
        actor=actor,
    )
