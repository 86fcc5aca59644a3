import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField

from core.fields import CurrencyField
from merchants.models import Merchant, acting_api_key_field


class RedemptionStatus(models.TextChoices):
    PENDING = "pending", "Pending (points taken, not yet sent to a supplier)"
    SUBMITTED = "submitted", "Submitted to a supplier"
    FAILED = "failed", "Failed, retrying"
    DELIVERED = "delivered", "Delivered"
    REFUNDED = "refunded", "Refunded (points given back)"
    CANCELLED = "cancelled", "Cancelled by staff (points given back)"


# Where a redemption may go next. Delivered, refunded and cancelled are final.
REDEMPTION_TRANSITIONS: dict[str, set[str]] = {
    RedemptionStatus.PENDING: {
        RedemptionStatus.SUBMITTED,
        RedemptionStatus.FAILED,
        RedemptionStatus.DELIVERED,
        RedemptionStatus.REFUNDED,
        RedemptionStatus.CANCELLED,
    },
    RedemptionStatus.SUBMITTED: {
        RedemptionStatus.DELIVERED,
        RedemptionStatus.FAILED,
        RedemptionStatus.REFUNDED,
        RedemptionStatus.CANCELLED,
    },
    RedemptionStatus.FAILED: {
        RedemptionStatus.SUBMITTED,
        RedemptionStatus.DELIVERED,
        RedemptionStatus.REFUNDED,
        RedemptionStatus.CANCELLED,
    },
    RedemptionStatus.DELIVERED: set(),
    RedemptionStatus.REFUNDED: set(),
    RedemptionStatus.CANCELLED: set(),
}
OPEN_STATUSES = (RedemptionStatus.PENDING, RedemptionStatus.SUBMITTED, RedemptionStatus.FAILED)


class DeliveryStatus(models.TextChoices):
    NONE = "none", "Nothing delivered yet"
    SENT = "sent", "Sent to the member"
    CLAIMED = "claimed", "Claimed by the member"
    SHIPPED = "shipped", "Shipped"
    RECEIVED = "received", "Received"
    RETURNED = "returned", "Returned"


class Redemption(models.Model):
    """A member's spending of points on a reward, with a snapshot of what was bought:
    the reward, its face value and currency, the point price and the rate it used."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="redemptions")
    member = models.ForeignKey(
        "loyalty.Member", on_delete=models.PROTECT, related_name="redemptions"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(
        max_length=100, blank=True, help_text="The store's own id of the redemption, if any."
    )
    request_hash = models.CharField(max_length=64, editable=False)
    reward = models.ForeignKey(
        "catalog.Reward", on_delete=models.PROTECT, related_name="redemptions"
    )
    catalog_item = models.ForeignKey(
        "catalog.MerchantCatalogItem",
        null=True,
        on_delete=models.SET_NULL,
        related_name="redemptions",
    )
    country = CountryField(help_text="Where it is delivered.")
    face_value = models.DecimalField(max_digits=14, decimal_places=4)
    face_currency = CurrencyField()
    quantity = models.PositiveSmallIntegerField(default=1)
    points_each = models.BigIntegerField()
    points_total = models.BigIntegerField()
    program_currency = CurrencyField()
    point_value = models.DecimalField(max_digits=14, decimal_places=6)
    rate_used = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    exchange_rate = models.ForeignKey(
        "loyalty.ExchangeRate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recipient = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=12, choices=RedemptionStatus.choices, default=RedemptionStatus.PENDING
    )
    delivery_status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.NONE
    )
    needs_care = models.BooleanField(default=False, db_index=True)
    care_reason = models.CharField(max_length=300, blank=True)
    spend_entry = models.OneToOneField(
        "loyalty.LedgerEntry", on_delete=models.PROTECT, related_name="redemption"
    )
    refund_entry = models.OneToOneField(
        "loyalty.LedgerEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunded_redemption",
    )
    reissue_of = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reissued_as",
        help_text="The delivered redemption this one replaces (ordered again by care).",
    )
    voided_at = models.DateTimeField(
        null=True, blank=True, help_text="Replaced by a reissue: its codes no longer count."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"],
                condition=~Q(external_id=""),
                name="redemption_unique_external_id",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RedemptionStatus.values), name="redemption_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(points_each__gt=0) & Q(points_total__gt=0),
                name="redemption_positive",
            ),
            # Given back exactly when refunded or cancelled: never both delivered and refunded.
            models.CheckConstraint(
                condition=(
                    Q(status__in=[RedemptionStatus.REFUNDED, RedemptionStatus.CANCELLED])
                    & Q(refund_entry__isnull=False)
                )
                | (
                    ~Q(status__in=[RedemptionStatus.REFUNDED, RedemptionStatus.CANCELLED])
                    & Q(refund_entry__isnull=True)
                ),
                name="redemption_refunded_iff_refund_entry",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "member", "-created_at"], name="redemption_member"),
            # The merchant's reports read a range of days of all its members.
            models.Index(fields=["merchant", "created_at"], name="redemption_merchant_day"),
            # What changed lately, for the reports computed before (fulfillment.reports).
            models.Index(fields=["merchant", "updated_at"], name="redemption_merchant_changed"),
            models.Index(fields=["status", "updated_at"], name="redemption_status"),
            # The ops console's list across merchants, newest first.
            models.Index(fields=["created_at", "id"], name="redemption_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.reward} x{self.quantity} for {self.member} ({self.status})"


class RedemptionEvent(models.Model):
    """Append-only: every change of a redemption's status or delivery, and who or what
    caused it."""

    redemption = models.ForeignKey(Redemption, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    field = models.CharField(max_length=20, default="status")
    from_value = models.CharField(max_length=20, blank=True)
    to_value = models.CharField(max_length=20)
    source = models.CharField(max_length=20, help_text='"api", "system", "staff" or a supplier.')
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = acting_api_key_field()
    actor_label = models.CharField(
        max_length=150,
        blank=True,
        help_text="Who acted (a user, an API key, a job), kept when the user or key is gone.",
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.field}: {self.from_value or '-'} → {self.to_value}"
