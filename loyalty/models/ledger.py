"""The points ledger: append-only entries, the lots earned points form, and which lots
each spend consumed.

A member's spendable balance is the sum of ``LedgerEntry.points``; their pending points the
sum of ``LedgerEntry.pending``. Earned points form a ``PointLot``; spending consumes the
oldest available lots first and writes one ``LotMovement`` per lot touched, so a failed
redemption can give back exactly the lots it took (with their own expiry dates).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from loyalty.models.member import Member
from merchants.models import Merchant, acting_api_key_field


class LedgerEntryKind(models.TextChoices):
    EARN = "earn", "Earn"
    RELEASE = "release", "Release of pending points"
    REDEEM = "redeem", "Redeem"
    REVERSE = "reverse", "Reverse on refund"
    EXPIRE = "expire", "Expire"
    ADJUST = "adjust", "Staff adjustment"
    REDEMPTION_REFUND = "redemption_refund", "Refund of a failed redemption"


class LedgerEntry(models.Model):
    Kind = LedgerEntryKind

    class Source(models.TextChoices):
        ORDER = "order", "Order"
        REFUND = "refund", "Refund"
        ACTIVITY = "activity", "Activity"
        REDEMPTION = "redemption", "Redemption"
        TICKET = "ticket", "Care ticket"
        STAFF = "staff", "Staff"
        SYSTEM = "system", "Scheduled job"
        ACHIEVEMENT = "achievement", "Achievement"
        REFERRAL = "referral", "Referral"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    # Indexed with ``id`` below (``entry_member_chain``), which serves lookups by member too.
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="ledger", db_index=False
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    points = models.BigIntegerField(help_text="Change to the spendable balance.")
    pending = models.BigIntegerField(default=0, help_text="Change to the pending points.")
    balance_after = models.BigIntegerField()
    pending_after = models.BigIntegerField()
    source_type = models.CharField(max_length=12, choices=Source.choices)
    source_ref = models.CharField(max_length=128, blank=True)
    order = models.ForeignKey(
        "loyalty.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refund = models.ForeignKey(
        "loyalty.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    activity = models.ForeignKey(
        "loyalty.Activity", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = acting_api_key_field()
    actor_label = models.CharField(
        max_length=150, blank=True, help_text="Who acted (a job by name), kept if the user goes."
    )
    reason = models.CharField(max_length=500, blank=True)
    shortfall = models.BigIntegerField(
        default=0, help_text="Points a reversal could not take back (already spent)."
    )
    reverses = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The spend this entry gives back.",
    )
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="entry_balance_gte0"),
            models.CheckConstraint(condition=Q(pending_after__gte=0), name="entry_pending_gte0"),
            models.CheckConstraint(condition=Q(shortfall__gte=0), name="entry_shortfall_gte0"),
            models.UniqueConstraint(
                fields=["reverses"],
                condition=Q(reverses__isnull=False),
                name="entry_gives_back_once",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[kind.value for kind in LedgerEntryKind]),
                name="entry_kind_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-created_at", "-id"], name="entry_member_recent"),
            # A member's entries in the order they were written: the database's chain
            # check reads the previous entry, and the balance check the last, through it.
            models.Index(fields=["member", "id"], name="entry_member_chain"),
            # The report aggregates: a merchant's entries of some local days.
            models.Index(fields=["merchant", "created_at"], name="entry_merchant_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d} ({self.member_id})"


class PointLot(models.Model):
    """Points earned together. ``released_at`` is null while they are pending."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="lots")
    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="lots")
    order = models.ForeignKey(
        "loyalty.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="lots"
    )
    points = models.BigIntegerField()
    remaining = models.BigIntegerField()
    earned_at = models.DateTimeField()
    available_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["member_id", "earned_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="lot_points_gt0"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("points")),
                name="lot_remaining_in_range",
            ),
        ]
        indexes = [
            # Spending: a member's available lots, oldest first.
            models.Index(
                fields=["member", "earned_at", "id"],
                condition=Q(remaining__gt=0, released_at__isnull=False),
                name="lot_spendable",
            ),
            # The release job: pending lots whose period has passed.
            models.Index(
                fields=["available_at"],
                condition=Q(remaining__gt=0, released_at__isnull=True),
                name="lot_pending_due",
            ),
            # The expiry job: available lots past their date.
            models.Index(
                fields=["expires_at"],
                condition=Q(remaining__gt=0, released_at__isnull=False),
                name="lot_expiry_due",
            ),
            # The report aggregates: a merchant's lots earned on some local days.
            models.Index(fields=["merchant", "earned_at"], name="lot_merchant_earned"),
        ]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.remaining}/{self.points}"


class LotMovement(models.Model):
    """How much of a lot an entry took (negative) or gave back (positive)."""

    entry = models.ForeignKey(LedgerEntry, on_delete=models.CASCADE, related_name="movements")
    lot = models.ForeignKey(PointLot, on_delete=models.CASCADE, related_name="movements")
    points = models.BigIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="movement_points_nonzero")
        ]

    def __str__(self) -> str:
        return f"{self.points:+d} on lot {self.lot_id}"
