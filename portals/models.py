"""What the portal keeps of its own: the report figures of a period, computed once and
read by every page, download and PDF of that period (``portals.snapshots``)."""

import uuid

from django.db import models

from merchants.models import Merchant


class ReportSnapshot(models.Model):
    """One period's program, rewards and care figures for one merchant, as computed at
    ``computed_at`` (the figures' own ``as_of`` says how current their sources were).
    Kept current by the snapshot job for the dashboard's presets; made on demand for
    other ranges. Never a source of truth: deleting every row only costs time."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    start = models.DateField()
    end = models.DateField()
    computed_at = models.DateTimeField(help_text="When the computation began.")
    took_ms = models.PositiveIntegerField(help_text="How long the computation took.")
    schema = models.CharField(
        max_length=16, help_text="The shape of the figures; another shape is recomputed."
    )
    figures = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "start", "end"], name="report_snapshot_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.start} to {self.end}, computed {self.computed_at:%Y-%m-%d %H:%M:%S}"


def _export_path(export: "MemberExport", filename: str) -> str:
    return f"member-exports/{export.merchant_id}/{export.public_id}.csv"


class MemberExport(models.Model):
    """One night's CSV of a merchant's members (balances, tier, segments, consent), for
    the owner to download from the portal. The last ``KEPT`` nights are kept."""

    KEPT = 7

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    day = models.DateField(help_text="The merchant's local day it was made for.")
    made_at = models.DateTimeField()
    rows = models.PositiveIntegerField()
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    file = models.FileField(upload_to=_export_path)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "day"], name="member_export_once_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.day}"
