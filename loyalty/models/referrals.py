"""Referrals (``loyalty.referrals``): each member's code, the friends it brought, and the
program's referral terms.

A ``Referral`` links an advocate to the friend their code brought, once per friend. The
fraud checks (``loyalty.referrals.checks``) run when it is made and keep their reasons;
it then waits for the friend's first qualifying order to pass the pending period
without a refund, and qualifies: both sides earn, once (the ledger entries are kept on
the referral). Only ``loyalty.referrals.services`` moves its status, through
``referral_transition``, which writes a ``ReferralEvent``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from loyalty.models.ledger import LedgerEntry
from loyalty.models.member import Member
from loyalty.models.orders import Order
from loyalty.models.program import Program
from merchants.models import Merchant, acting_api_key_field


class ReferralTerms(models.Model):
    """What a program gives for a referral, and when."""

    program = models.OneToOneField(
        Program, on_delete=models.CASCADE, primary_key=True, related_name="referral_terms"
    )
    is_enabled = models.BooleanField(default=True)
    advocate_points = models.PositiveIntegerField(
        default=0, help_text="Points for the member who referred."
    )
    friend_points = models.PositiveIntegerField(
        default=0, help_text="Points for the friend they brought."
    )
    min_order_total = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        default=0,
        help_text="The friend's first order qualifies from this total, in the program's currency.",
    )
    pending_days = models.PositiveIntegerField(
        default=30, help_text="How long the first order must stand without a refund."
    )
    weekly_limit = models.PositiveIntegerField(
        default=10, help_text="More referrals than this by one member in 7 days are flagged."
    )
    landing_url = models.URLField(
        blank=True, help_text="Where a referral link leads, e.g. https://shop.example/join."
    )

    class Meta:
        verbose_name = "referral terms"
        verbose_name_plural = "referral terms"

    def __str__(self) -> str:
        return f"Referral terms of {self.program}"


class ReferralCode(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    member = models.OneToOneField(Member, on_delete=models.CASCADE, related_name="referral_code")
    code = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Unique across merchants: a link ``/r/<code>`` names no merchant.
        constraints = [
            models.UniqueConstraint(fields=["code"], name="referral_code_unique"),
        ]

    def __str__(self) -> str:
        return self.code


class ReferralStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the friend's first order"
    FLAGGED = "flagged", "Waiting for a review"
    QUALIFIED = "qualified", "Qualified and rewarded"
    BLOCKED = "blocked", "Blocked"
    REJECTED = "rejected", "Rejected in review"
    VOID = "void", "Did not qualify"


REFERRAL_TRANSITIONS: dict[str, tuple[str, ...]] = {
    ReferralStatus.PENDING: (ReferralStatus.QUALIFIED, ReferralStatus.VOID),
    ReferralStatus.FLAGGED: (ReferralStatus.PENDING, ReferralStatus.REJECTED),
    ReferralStatus.QUALIFIED: (),
    ReferralStatus.BLOCKED: (),
    ReferralStatus.REJECTED: (),
    ReferralStatus.VOID: (),
}


class Referral(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    advocate = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="referrals_made")
    friend = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="referrals_received")
    code = models.CharField(max_length=16)
    status = models.CharField(
        max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.PENDING
    )
    reasons = models.JSONField(
        default=list, blank=True, help_text="The fraud checks that blocked or flagged it."
    )
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    device_id = models.CharField(max_length=128, blank=True)
    first_order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    qualifies_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    advocate_entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    friend_entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "friend"], name="referral_friend_once"),
            models.CheckConstraint(
                condition=~Q(advocate=models.F("friend")), name="referral_not_self"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReferralStatus.values), name="referral_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["advocate", "-created_at"], name="referral_advocate_recent"),
            models.Index(fields=["merchant", "status", "-created_at"], name="referral_queue"),
            models.Index(
                fields=["qualifies_at"],
                condition=Q(status="pending", qualifies_at__isnull=False),
                name="referral_due",
            ),
            models.Index(
                fields=["merchant"],
                condition=Q(status="pending", first_order__isnull=True),
                name="referral_awaiting_order",
            ),
        ]
        permissions = [("review_referral", "Can approve or reject flagged referrals")]

    def __str__(self) -> str:
        return f"{self.advocate_id} → {self.friend_id} ({self.status})"


class FlaggedReferral(Referral):
    """The review queue: flagged referrals, as the admin lists them for a person to
    approve or reject."""

    class Meta:
        proxy = True
        verbose_name = "referral to review"
        verbose_name_plural = "referrals to review"


class ReferralIdentity(models.Model):
    """What the referral checks know of a member beyond the profile (email, phone): the
    last client IP and device the store sent with them, and a digest of their postal
    address (the address itself is not kept). Compared when the member refers a friend
    later; erased with the member's personal data."""

    member = models.OneToOneField(
        Member, on_delete=models.CASCADE, primary_key=True, related_name="referral_identity"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    address_digest = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    device_id = models.CharField(max_length=128, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "referral identity"
        verbose_name_plural = "referral identities"

    def __str__(self) -> str:
        return f"Referral identity of {self.member_id}"


class ReferralEvent(models.Model):
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    reason = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = acting_api_key_field()
    actor_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.referral_id}: {self.from_status or '—'} → {self.to_status}"
