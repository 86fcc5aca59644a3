"""Member messages (``loyalty.messages``): the emails a program sends its members, the
templates ops edit per merchant and locale, the log of what was sent, and the members'
opt-outs.

A ``MemberMessage`` is unique per (merchant, member, key): the key names the message and
its cause (``expiring:2026-12-31:7``, ``achievement:12:ever``), so a member never gets the
same message twice, whatever the retries.
"""

import secrets

from django.conf import settings
from django.db import models

from loyalty.models.member import Member
from merchants.models import Merchant


class MessageKind(models.TextChoices):
    WELCOME = "welcome", "Welcome"
    POINTS_EXPIRING = "points_expiring", "Points about to expire"
    TIER_REACHED = "tier_reached", "Tier reached"
    TIER_LOST = "tier_lost", "Tier lost"
    ACHIEVEMENT_COMPLETED = "achievement_completed", "Achievement completed"
    REFERRAL_REWARDED = "referral_rewarded", "Referral rewarded"


class MessageCategory(models.TextChoices):
    TRANSACTIONAL = "transactional", "About the member's account"
    MARKETING = "marketing", "Promotional (needs marketing consent)"


class MessageTemplate(models.Model):
    """A merchant's own wording of one message in one locale; without one, the built-in
    wording in the member's language is sent."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="message_templates"
    )
    kind = models.CharField(max_length=24, choices=MessageKind.choices)
    locale = models.CharField(max_length=8, choices=settings.LANGUAGES)
    subject = models.CharField(max_length=200)
    body = models.TextField(
        help_text="Paragraphs separated by a blank line; {{ member.first_name }} and the "
        "other fields the preview lists may be used."
    )
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant_id", "kind", "locale"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind", "locale"], name="message_template_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.locale})"


def _token() -> str:
    return secrets.token_urlsafe(24)


class MessageStatus(models.TextChoices):
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Not sent"
    FAILED = "failed", "Failed"


class MemberMessage(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=24, choices=MessageKind.choices)
    category = models.CharField(max_length=14, choices=MessageCategory.choices)
    key = models.CharField(max_length=120)
    locale = models.CharField(max_length=8)
    to_email = models.EmailField(blank=True)
    subject = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=MessageStatus.choices)
    skip_reason = models.CharField(max_length=200, blank=True)
    token = models.CharField(max_length=40, default=_token, unique=True, editable=False)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "member", "key"], name="member_message_once"
            ),
        ]
        indexes = [models.Index(fields=["member", "-created_at"], name="member_message_recent")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.member_id} ({self.status})"


class MessageOptOut(models.Model):
    """A member asked not to get one kind of message (an unsubscribe link, the portal)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="message_opt_outs")
    kind = models.CharField(max_length=24, choices=MessageKind.choices)
    source = models.CharField(max_length=40, help_text="How: an email's link, the portal.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "member", "kind"], name="message_opt_out"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} opted out of {self.kind}"
