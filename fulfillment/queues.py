"""The redemption work queues: the redemptions that need a person, each defined once. The
redemption list's queue filter shows them and the ops home counts them (``ops_cards``).
Across merchants: these are the provider's own queues, read by its staff."""

import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from fulfillment.models import (
    Redemption,
    RedemptionStatus,
    Shipment,
    ShipmentStatus,
    SupplierOrder,
    SupplierOrderStatus,
)
from fulfillment.models.redemptions import OPEN_STATUSES
from fulfillment.services import dispatch, interventions

STUCK_AFTER = datetime.timedelta(hours=1)

QUEUES = {
    "stuck": "Stuck (open, no change for over an hour)",
    "failing": "Failing",
    "manual": "Needs manual action",
    "unknown": "Unknown outcome",
}


def _active_orders(**filters: object) -> QuerySet:
    return SupplierOrder.objects.filter(
        redemption=OuterRef("pk"), status__in=dispatch.ACTIVE, **filters
    )


def redemption_queue(
    queryset: QuerySet[Redemption], name: str, *, now: datetime.datetime
) -> QuerySet[Redemption]:
    """The redemptions of ``queryset`` in the queue ``name`` (one of ``QUEUES``)."""
    if name == "stuck":
        return queryset.filter(status__in=OPEN_STATUSES, updated_at__lt=now - STUCK_AFTER)
    if name == "failing":
        return queryset.filter(status=RedemptionStatus.FAILED)
    if name == "manual":
        # Two index lookups joined by a UNION: the flag OR an EXISTS would read every
        # redemption (PostgreSQL cannot combine a subquery with an index in an OR).
        marked = Redemption.objects.filter(needs_care=True).order_by().values("pk")
        by_hand = (
            SupplierOrder.objects.filter(
                status__in=dispatch.ACTIVE, supplier__adapter=interventions.MANUAL_ADAPTER
            )
            .order_by()
            .values("redemption_id")
        )
        return queryset.filter(pk__in=marked.union(by_hand))
    if name == "unknown":
        return queryset.filter(Exists(_active_orders(status=SupplierOrderStatus.UNKNOWN)))
    raise ValueError(name)


# A parcel is late when it has not moved for this long: not handed to a carrier within
# LATE_TO_SHIP, or not delivered within LATE_IN_TRANSIT of its last carrier scan.
LATE_TO_SHIP = datetime.timedelta(days=3)
LATE_IN_TRANSIT = datetime.timedelta(days=10)


def late_shipments(queryset: QuerySet[Shipment], *, now: datetime.datetime) -> QuerySet[Shipment]:
    return queryset.filter(
        Q(
            status__in=[ShipmentStatus.PENDING, ShipmentStatus.LABEL_CREATED],
            updated_at__lt=now - LATE_TO_SHIP,
        )
        | Q(
            status__in=[ShipmentStatus.SHIPPED, ShipmentStatus.IN_TRANSIT],
            updated_at__lt=now - LATE_IN_TRANSIT,
        )
    )
