from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "Pending (not handed to a carrier yet)"
    LABEL_CREATED = "label_created", "Label created"
    SHIPPED = "shipped", "Shipped"
    IN_TRANSIT = "in_transit", "In transit"
    DELIVERED = "delivered", "Delivered to the member"
    RETURNED = "returned", "Returned to the sender"
    LOST = "lost", "Lost"


# Where a shipment may go next. Returned and lost are final; a delivered parcel may
# still come back (refused late, or sent back by the member).
SHIPMENT_TRANSITIONS: dict[str, set[str]] = {
    ShipmentStatus.PENDING: {
        ShipmentStatus.LABEL_CREATED,
        ShipmentStatus.SHIPPED,
        ShipmentStatus.LOST,
    },
    ShipmentStatus.LABEL_CREATED: {ShipmentStatus.SHIPPED, ShipmentStatus.LOST},
    ShipmentStatus.SHIPPED: {
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.DELIVERED,
        ShipmentStatus.RETURNED,
        ShipmentStatus.LOST,
    },
    ShipmentStatus.IN_TRANSIT: {
        ShipmentStatus.DELIVERED,
        ShipmentStatus.RETURNED,
        ShipmentStatus.LOST,
    },
    ShipmentStatus.DELIVERED: {ShipmentStatus.RETURNED},
    ShipmentStatus.RETURNED: set(),
    ShipmentStatus.LOST: set(),
}
# What a shipment may start as when it is recorded.
SHIPMENT_INITIAL = (ShipmentStatus.PENDING, ShipmentStatus.LABEL_CREATED, ShipmentStatus.SHIPPED)
# The statuses a parcel has left the sender in: shipped_at is set.
SHIPMENT_ON_ITS_WAY = (ShipmentStatus.SHIPPED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED)


class ShipmentSource(models.TextChoices):
    STAFF = "staff", "Entered by staff"
    SUPPLIER = "supplier", "Reported by the supplier"


class Shipment(models.Model):
    """A parcel sent for a redemption: where to (the address as it was when recorded),
    the carrier and tracking, and where the parcel is. A redemption may have several (a
    split order, a parcel sent again after one was lost). Its history is the redemption's
    events with ``field="shipment"``."""

    redemption = models.ForeignKey(
        "fulfillment.Redemption", on_delete=models.CASCADE, related_name="shipments"
    )
    supplier_order = models.ForeignKey(
        "fulfillment.SupplierOrder",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="shipments",
    )
    address = models.JSONField(
        default=dict, blank=True, help_text="The recipient's postal address when recorded."
    )
    carrier = models.CharField(max_length=60, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    tracking_url = models.URLField(max_length=300, blank=True)
    status = models.CharField(
        max_length=16, choices=ShipmentStatus.choices, default=ShipmentStatus.PENDING
    )
    source = models.CharField(max_length=12, choices=ShipmentSource.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["redemption", "carrier", "tracking_number"],
                condition=~Q(tracking_number=""),
                name="shipment_unique_tracking",
            ),
            models.CheckConstraint(
                condition=Q(tracking_number="") | ~Q(carrier=""),
                name="shipment_carrier_with_number",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ShipmentStatus.values), name="shipment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=ShipmentSource.values), name="shipment_source_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=SHIPMENT_ON_ITS_WAY) | Q(shipped_at__isnull=False),
                name="shipment_shipped_at_once_shipped",
            ),
            models.CheckConstraint(
                condition=~Q(status=ShipmentStatus.DELIVERED) | Q(delivered_at__isnull=False),
                name="shipment_delivered_at_once_delivered",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "updated_at"], name="shipment_status"),
            # The admin searches tracking numbers case-insensitively (UPPER(...) = UPPER(...)).
            models.Index(Upper("tracking_number"), name="shipment_tracking_number"),
        ]

    def __str__(self) -> str:
        tracking = f"{self.carrier} {self.tracking_number}".strip() or "no tracking"
        return f"shipment #{self.pk} of redemption {self.redemption_id} ({tracking})"
