"""Provider staff viewing a merchant's portal as the merchant (read-only): one row for each
use, the audit of who looked at which merchant's portal, from when to when, and how it
ended (``merchants.services.view_as``)."""

from django.conf import settings
from django.db import models

from merchants.models.tenant import Merchant


class ViewAsEnd(models.TextChoices):
    ENDED = "ended", "Ended from the banner"
    SIGNED_OUT = "signed_out", "Signed out"
    EXPIRED = "expired", "Time limit reached"
    REPLACED = "replaced", "Another view began"
    REVOKED = "revoked", "The right to view was taken away"


class PortalViewAs(models.Model):
    """One use of "View the portal as this merchant". Written when it starts, closed once
    (``ended_at``, ``end_reason``); nothing else changes but the download count."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    staff_label = models.CharField(max_length=150, help_text="Who viewed, kept if the user goes.")
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField(help_text="When it ends by itself.")
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=ViewAsEnd.choices, blank=True)
    downloads = models.PositiveIntegerField(
        default=0, help_text="CSV, ZIP and PDF files opened during the view (reads, allowed)."
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["merchant", "-started_at"], name="view_as_merchant_recent")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True, end_reason="")
                | models.Q(ended_at__isnull=False) & ~models.Q(end_reason=""),
                name="view_as_ended_with_a_reason",
            ),
        ]
        permissions = [
            (
                "view_portal_as_merchant",
                "Can view a merchant's portal as the merchant (read-only, audited)",
            )
        ]

    def __str__(self) -> str:
        return f"{self.staff_label} as {self.merchant_id} at {self.started_at:%Y-%m-%d %H:%M}"
