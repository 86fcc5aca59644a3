from django.conf import settings
from django.db import models
from django.db.models import Q


class AlertKind(models.TextChoices):
    LOW_STOCK = "low_stock", "Code pool running low"
    STALE_RATE = "stale_rate", "Exchange rate out of date"
    COST_ABOVE_RECOVERY = "cost_above_recovery", "Reward costs more than the fee plan recovers"
    RATE_IMPORT = "rate_import", "Exchange-rate file refused"
    SUPPLIER_PAUSED = "supplier_paused", "Supplier paused after repeated failures"


class CatalogAlert(models.Model):
    """Something the Catalog team should look at. One open alert per subject: raising it
    again while open only refreshes it; resolving it closes it."""

    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    subject = models.CharField(max_length=200, help_text="What it is about, e.g. pool:12.")
    message = models.TextField()
    raised_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject"],
                condition=Q(resolved_at__isnull=True),
                name="alert_one_open_per_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"
