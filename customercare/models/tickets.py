"""Care tickets: a member's question or problem, worked by the provider's care agents.

A ticket's status moves only through ``customercare.services.ticket_move`` (and the
services that call it), as a compare-and-swap that writes a ``TicketEvent``; so do its
assignee, priority and category. Messages are public replies (the member sees them) or
internal notes (no member route ever returns them); the database refuses an internal
note written by the member.
"""

import secrets

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import models
from django.db.models import Q

from core.actors import recorded_actor_label
from merchants.models import Merchant, acting_api_key_field

# Crockford's base32 without the look-alikes: 12 characters are 60 random bits.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    return "T-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(12))


# What people type for the letters the alphabet leaves out, as Crockford reads them.
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def reference_prefix(term: str) -> str | None:
    """The start of a ticket reference that ``term`` is, as references are stored: ``t-7k``
    is ``T-7K``, a bare ``7K2M9Q`` (six characters or more, one a digit) gets its ``T-``,
    an ``O`` is a zero. None when ``term`` cannot start a reference."""
    text = term.strip().upper()
    if text.startswith("T-"):
        body = text[2:]
    elif len(text) >= 6 and any(char.isdigit() for char in text):
        body = text
    else:
        return None
    body = body.translate(_LOOK_ALIKES)
    if not body or len(body) > 12 or any(char not in REFERENCE_ALPHABET for char in body):
        return None
    return f"T-{body}"


class TicketCategory(models.TextChoices):
    MISSING_POINTS = "missing_points", "Missing points"
    REWARD_NOT_RECEIVED = "reward_not_received", "Reward not received"
    WRONG_REWARD = "wrong_reward", "Wrong reward"
    ACCOUNT_AND_DATA = "account_and_data", "Account and data"
    REDEMPTION_QUESTION = "redemption_question", "Redemption question"
    OTHER = "other", "Other"


class TicketStatus(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING_CUSTOMER = "pending_customer", "Pending on customer"
    PENDING_FULFILLMENT = "pending_fulfillment", "Pending on fulfillment"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    MERGED = "merged", "Merged into another ticket"


_WORKING = {
    TicketStatus.OPEN,
    TicketStatus.PENDING_CUSTOMER,
    TicketStatus.PENDING_FULFILLMENT,
    TicketStatus.RESOLVED,
    TicketStatus.MERGED,
}
# Where a ticket may go next. A resolved ticket reopens (to open) on a member's reply
# within the reopen window, and closes after it; closed and merged are final.
TICKET_TRANSITIONS: dict[str, set[str]] = {
    TicketStatus.NEW: _WORKING | {TicketStatus.CLOSED},
    TicketStatus.OPEN: _WORKING - {TicketStatus.OPEN},
    TicketStatus.PENDING_CUSTOMER: _WORKING - {TicketStatus.PENDING_CUSTOMER},
    TicketStatus.PENDING_FULFILLMENT: _WORKING - {TicketStatus.PENDING_FULFILLMENT},
    TicketStatus.RESOLVED: {TicketStatus.OPEN, TicketStatus.CLOSED},
    TicketStatus.CLOSED: set(),
    TicketStatus.MERGED: set(),
}
UNRESOLVED_STATUSES = (
    TicketStatus.NEW,
    TicketStatus.OPEN,
    TicketStatus.PENDING_CUSTOMER,
    TicketStatus.PENDING_FULFILLMENT,
)
# While waiting on someone else, or resolved until the member reopens it, the SLA clock
# stops.
PAUSED_STATUSES = (
    TicketStatus.PENDING_CUSTOMER,
    TicketStatus.PENDING_FULFILLMENT,
    TicketStatus.RESOLVED,
)


class TicketPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


PRIORITY_ORDER = [
    TicketPriority.LOW,
    TicketPriority.NORMAL,
    TicketPriority.HIGH,
    TicketPriority.URGENT,
]


class SLAState(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    BREACHED = "breached", "Breached"
    MET = "met", "Met"


class TicketChannel(models.TextChoices):
    API = "api", "Store API"
    PORTAL = "portal", "Member portal"
    STAFF = "staff", "Care agent"
    SYSTEM = "system", "Opened by the system"


class Ticket(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="tickets")
    member = models.ForeignKey("loyalty.Member", on_delete=models.PROTECT, related_name="tickets")
    reference = models.CharField(max_length=16, unique=True, default=new_reference, editable=False)
    category = models.CharField(max_length=24, choices=TicketCategory.choices)
    subject = models.CharField(max_length=200)
    status = models.CharField(
        max_length=24, choices=TicketStatus.choices, default=TicketStatus.NEW, editable=False
    )
    priority = models.CharField(
        max_length=8, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    channel = models.CharField(max_length=8, choices=TicketChannel.choices)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="care_tickets",
    )
    # What the ticket is about, where there is one.
    order = models.ForeignKey(
        "loyalty.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    order_external_id = models.CharField(
        max_length=128, blank=True, help_text="The order the member named, found or not."
    )
    redemption = models.ForeignKey(
        "fulfillment.Redemption",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    ledger_entry = models.ForeignKey(
        "loyalty.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_tickets"
    )
    # The member as the ticket found them.
    balance_at_open = models.BigIntegerField(editable=False)
    pending_at_open = models.BigIntegerField(editable=False)
    tier_at_open = models.CharField(max_length=80, blank=True, editable=False)
    # SLA clock: the targets in force, what happened, and the time spent paused.
    first_response_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolution_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    first_responded_at = models.DateTimeField(null=True, blank=True, editable=False)
    paused_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Waiting on the member or fulfillment."
    )
    paused_minutes = models.PositiveIntegerField(
        default=0, editable=False, help_text="Counted minutes spent paused, added to the targets."
    )
    first_response_breached = models.BooleanField(default=False, editable=False)
    resolution_breached = models.BooleanField(default=False, editable=False)
    sla_state = models.CharField(
        max_length=10, choices=SLAState.choices, default=SLAState.ON_TRACK, editable=False
    )
    escalations = models.PositiveSmallIntegerField(default=0, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolutions = models.PositiveSmallIntegerField(
        default=0, editable=False, help_text="How many times it was resolved (CSAT is per one)."
    )
    last_member_message_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TicketStatus.values), name="ticket_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=TicketPriority.values), name="ticket_priority_valid"
            ),
            models.CheckConstraint(
                condition=(Q(status=TicketStatus.MERGED) & Q(merged_into__isnull=False))
                | (~Q(status=TicketStatus.MERGED) & Q(merged_into__isnull=True)),
                name="ticket_merged_has_target",
            ),
            # The system opens one ticket per redemption that needs care.
            models.UniqueConstraint(
                fields=["redemption"],
                condition=Q(channel=TicketChannel.SYSTEM),
                name="ticket_one_system_ticket_per_redemption",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "status"], name="ticket_merchant_status"),
            models.Index(fields=["status", "resolution_due_at"], name="ticket_due"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status"),
            models.Index(fields=["merchant", "member"], name="ticket_member"),
            # What changed lately, for the reports computed before (customercare.reports).
            models.Index(fields=["merchant", "updated_at"], name="ticket_merchant_changed"),
            # The SLA queue's count across merchants (customercare.queues.sla_at_risk):
            # the worked tickets' due times, read from the index alone.
            models.Index(
                fields=["first_response_due_at", "resolution_due_at", "first_responded_at"],
                condition=Q(status__in=["new", "open"]),
                name="ticket_sla_queue",
            ),
        ]
        permissions = [
            ("approve_goodwill", "Can approve goodwill adjustments above the threshold"),
            ("view_care_reports", "Can see the customer care reports"),
            ("reissue_reward", "Can reissue a delivered reward from its ticket"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    @property
    def is_unresolved(self) -> bool:
        return self.status in UNRESOLVED_STATUSES


class MessageKind(models.TextChoices):
    PUBLIC = "public", "Public reply"
    INTERNAL = "internal", "Internal note"


class MessageAuthor(models.TextChoices):
    MEMBER = "member", "Member"
    STAFF = "staff", "Care agent"
    SYSTEM = "system", "System"


class TicketMessage(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=8, choices=MessageKind.choices)
    author_type = models.CharField(max_length=8, choices=MessageAuthor.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    api_key = acting_api_key_field()
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(author_type=MessageAuthor.MEMBER) | Q(kind=MessageKind.PUBLIC),
                name="message_member_writes_public",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=MessageKind.values), name="message_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["ticket", "kind"], name="message_ticket_kind")]

    def __str__(self) -> str:
        return f"{self.ticket.reference} {self.get_kind_display()}"

    @property
    def who(self) -> str:
        """Who the thread says wrote it: the agent, or the author type (the member, the
        system), with the store's key when the message came through the API."""
        if self.author is not None:
            return self.author.get_username()
        who = self.get_author_type_display().lower()
        if self.api_key_id:
            return f"{who} via {recorded_actor_label(user=None, api_key_id=self.api_key_id)}"
        return who


def care_attachment_storage() -> Storage:
    return storages["care_attachments"]


def _attachment_path(instance: "TicketAttachment", filename: str) -> str:
    # The stored name is random; the member's file name is kept in ``filename``.
    return f"care/{secrets.token_hex(16)}"


class TicketAttachment(models.Model):
    """A file on a message, kept in private storage (never under MEDIA_URL) and served by
    views that check who may see the ticket and the message."""

    message = models.ForeignKey(TicketMessage, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=_attachment_path, storage=care_attachment_storage)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename


class TicketEventField(models.TextChoices):
    STATUS = "status", "Status"
    ASSIGNEE = "assignee", "Assignee"
    PRIORITY = "priority", "Priority"
    CATEGORY = "category", "Category"
    SLA = "sla", "SLA"


class TicketEvent(models.Model):
    """Append-only history of a ticket's status, assignee, priority and category."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    field = models.CharField(max_length=10, choices=TicketEventField.choices)
    from_value = models.CharField(max_length=150, blank=True)
    to_value = models.CharField(max_length=150, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    api_key = acting_api_key_field()
    source = models.CharField(max_length=10, help_text="staff, portal, api, member or system")
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "field"], name="ticketevent_ticket_field")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.field}: {self.from_value} -> {self.to_value}"

    @property
    def who(self) -> str:
        """Who the timeline says acted: the agent, the store's key, or the source."""
        return recorded_actor_label(user=self.actor, api_key_id=self.api_key_id) or self.source


class CSATResponse(models.Model):
    """The member's rating of one resolution of a ticket: once per resolution."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="csat")
    resolution = models.PositiveSmallIntegerField()
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=2000)
    via = models.CharField(max_length=8, help_text="link or api")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        # The ratings given lately, for the reports computed before (customercare.reports).
        indexes = [models.Index(fields=["created_at"], name="csat_created")]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "resolution"], name="csat_once"),
            models.CheckConstraint(
                condition=Q(score__gte=1, score__lte=5), name="csat_score_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.score}"
