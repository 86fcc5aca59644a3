"""What agents work with: their availability, per-merchant care settings, canned
replies, goodwill adjustments and the outbox of care emails."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from customercare.models.tickets import Ticket
from merchants.models import Merchant


class AgentProfile(models.Model):
    """A care agent's availability for automatic assignment."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_profile"
    )
    is_available = models.BooleanField(default=False)
    max_open_tickets = models.PositiveSmallIntegerField(default=25)
    is_team_lead = models.BooleanField(
        default=False, help_text="Told of breached tickets and of those with no assignee."
    )
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return self.user.get_username()


class CareSettings(models.Model):
    """A merchant's care terms; a merchant without a row gets the defaults."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="care_settings"
    )
    goodwill_approval_threshold = models.PositiveIntegerField(
        default=500, help_text="Goodwill above this many points needs a senior's approval."
    )
    goodwill_max_per_30_days = models.PositiveSmallIntegerField(
        default=3, help_text="Goodwill credits a member may get in any 30 days."
    )
    reopen_window_days = models.PositiveSmallIntegerField(
        default=7, help_text="A member's reply within this many days reopens a resolved ticket."
    )
    missing_points_claim_days = models.PositiveSmallIntegerField(
        default=90, help_text="How old an order may be for a missing-points claim."
    )

    class Meta:
        verbose_name_plural = "care settings"

    def __str__(self) -> str:
        return f"Care settings of {self.merchant}"


class CannedReply(models.Model):
    """A reply agents insert and edit. Placeholders: {member_name}, {points_balance},
    {points_name}, {reward_name}, {ticket_reference}, {merchant_name}."""

    merchant = models.ForeignKey(
        Merchant,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_replies",
        help_text="Empty: offered for every merchant.",
    )
    title = models.CharField(max_length=120)
    body = models.TextField()
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "canned replies"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "title"],
                condition=Q(merchant__isnull=False),
                name="canned_reply_title_per_merchant",
            ),
            models.UniqueConstraint(
                fields=["title"],
                condition=Q(merchant__isnull=True),
                name="canned_reply_title_global",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class GoodwillReason(models.TextChoices):
    DELIVERY_DELAY = "delivery_delay", "Reward delivery delayed"
    REWARD_PROBLEM = "reward_problem", "Problem with the reward"
    MISSING_POINTS = "missing_points", "Points not credited"
    SERVICE_FAILURE = "service_failure", "Service failure"
    COMPLAINT = "complaint", "Complaint"
    OTHER = "other", "Other"


class GoodwillStatus(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", "Waiting for approval"
    POSTED = "posted", "Posted to the ledger"
    REJECTED = "rejected", "Rejected"


class GoodwillAdjustment(models.Model):
    """Points given from a ticket. Posted through the ledger once (``key`` is the form's
    one-time token, so a double click posts once); above the merchant's threshold, only
    after another agent with ``approve_goodwill`` approves."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="goodwill")
    member = models.ForeignKey("loyalty.Member", on_delete=models.PROTECT, related_name="+")
    key = models.UUIDField(default=uuid.uuid4, editable=False)
    points = models.PositiveIntegerField()
    reason = models.CharField(max_length=20, choices=GoodwillReason.choices)
    note = models.CharField(max_length=500)
    status = models.CharField(max_length=20, choices=GoodwillStatus.choices, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_note = models.CharField(max_length=500, blank=True)
    ledger_entry = models.OneToOneField(
        "loyalty.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="goodwill_key_once"),
            models.CheckConstraint(condition=Q(points__gt=0), name="goodwill_points_positive"),
            models.CheckConstraint(
                condition=(Q(status=GoodwillStatus.POSTED) & Q(ledger_entry__isnull=False))
                | (~Q(status=GoodwillStatus.POSTED) & Q(ledger_entry__isnull=True)),
                name="goodwill_posted_has_entry",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                name="goodwill_approver_is_another_agent",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "status", "created_at"], name="goodwill_velocity")
        ]

    def __str__(self) -> str:
        return f"{self.points} points for {self.ticket.reference}"


class NotificationKind(models.TextChoices):
    REPLY = "reply", "Reply to the member"
    RESOLVED = "resolved", "Resolution to the member"
    AT_RISK = "at_risk", "SLA at risk (to the assignee)"
    BREACHED = "breached", "SLA breached (to the assignee and leads)"
    UNASSIGNED = "unassigned", "Unassigned ticket at risk (to the leads)"


class CareNotification(models.Model):
    """An email to send, as a row first: the sending task may die, the row stays and the
    sweeper sends it. ``key`` makes writing the same notification twice a no-op."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=12, choices=NotificationKind.choices)
    key = models.CharField(max_length=120, unique=True)
    to = models.JSONField(help_text="Addresses.")
    message = models.ForeignKey(
        "customercare.TicketMessage",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    tries = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(sent_at__isnull=True),
                name="carenotification_unsent",
            )
        ]

    def __str__(self) -> str:
        return self.key
