"""A member's privacy requests from the member portal: a download of their data (an
archive made by a task, kept a week in private storage) and the deletion of their account
(asked by the member, decided by ops, carried out by the anonymisation that keeps the
ledger)."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from customercare.models.tickets import care_attachment_storage
from loyalty.models import Member
from merchants.models import Merchant


def _export_token() -> str:
    return secrets.token_urlsafe(32)


def _archive_path(export: "MemberDataExport", filename: str) -> str:
    return f"member-data/{export.merchant_id}/{export.token}.zip"


class DataExportStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    READY = "ready", "Ready"
    EXPIRED = "expired", "Expired"
    FAILED = "failed", "Failed"


class MemberDataExport(models.Model):
    """One "download my data" request and its archive. The archive sits in the care
    files' private storage (never under ``MEDIA_URL``) and is served by a view to the
    member it belongs to; the daily job deletes it once ``expires_at`` passes."""

    KEPT_DAYS = 7

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64, unique=True, default=_export_token, editable=False)
    status = models.CharField(
        max_length=10, choices=DataExportStatus.choices, default=DataExportStatus.REQUESTED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes.")
    file = models.FileField(upload_to=_archive_path, storage=care_attachment_storage, blank=True)
    error = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=10, help_text="Who asked: member, staff or system.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Asking again while the archive is being made returns the request in hand.
            models.UniqueConstraint(
                fields=["merchant", "member"],
                condition=Q(status="requested"),
                name="member_data_export_one_open",
            )
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="memberdataexport_expiry")]

    def __str__(self) -> str:
        return f"data of {self.member_id} ({self.status})"


class DeletionStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    DONE = "done", "Done"


DELETION_TRANSITIONS: dict[str, set[str]] = {
    DeletionStatus.REQUESTED: {DeletionStatus.APPROVED, DeletionStatus.REJECTED},
    DeletionStatus.APPROVED: {DeletionStatus.DONE},
    DeletionStatus.REJECTED: set(),
    DeletionStatus.DONE: set(),
}


class AccountDeletionRequest(models.Model):
    """A member's request to delete their account. Ops approve it (the member is then
    anonymised, the ledger kept) or reject it with a reason; the member is told either
    way. ``notify_email`` and ``notify_locale`` keep where to send that news across the
    anonymisation, and are cleared once it is sent."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=1000, blank=True)
    status = models.CharField(
        max_length=10, choices=DeletionStatus.choices, default=DeletionStatus.REQUESTED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=1000, blank=True)
    notify_email = models.EmailField(blank=True)
    notify_locale = models.CharField(max_length=10, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "member"],
                condition=Q(status="requested"),
                name="account_deletion_one_open",
            )
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="accountdeletion_queue")]

    def __str__(self) -> str:
        return f"deletion of {self.member_id} ({self.status})"


class AccountDeletionEvent(models.Model):
    """Append-only history of a deletion request: each move, who made it, when, why."""

    request = models.ForeignKey(
        AccountDeletionRequest, on_delete=models.CASCADE, related_name="events"
    )
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(max_length=10, help_text="staff, member or system")
    note = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.from_status} -> {self.to_status}"
