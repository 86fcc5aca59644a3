"""What the portal keeps of its own: the report figures of a period, computed once and
read by every page, download and PDF of that period (``portals.snapshots``)."""

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
