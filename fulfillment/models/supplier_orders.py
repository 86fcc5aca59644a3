from django.db import models
from django.db.models import Q

from core.fields import CurrencyField


class SupplierOrderStatus(models.TextChoices):
    QUEUED = "queued", "Queued for dispatch"
    SUBMITTED = "submitted", "Placed, waiting for the supplier"
    UNKNOWN = "unknown", "Outcome unknown: reconcile before any retry"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class SupplierOrder(models.Model):
    """One attempt at buying a redemption's reward from one supplier offer. The row is
    written in the redemption's transaction, before any call, so a crash never loses it;
    its ``idempotency_key`` is fixed, so a repeated call never buys twice."""

    redemption = models.ForeignKey(
        "fulfillment.Redemption", on_delete=models.CASCADE, related_name="supplier_orders"
    )
    offer = models.ForeignKey(
        "catalog.SupplierOffer", on_delete=models.PROTECT, related_name="supplier_orders"
    )
    supplier = models.ForeignKey(
        "catalog.Supplier", on_delete=models.PROTECT, related_name="supplier_orders"
    )
    attempt = models.PositiveSmallIntegerField(default=1, help_text="Which offer tried, 1 first.")
    idempotency_key = models.CharField(max_length=80, unique=True)
    status = models.CharField(
        max_length=12, choices=SupplierOrderStatus.choices, default=SupplierOrderStatus.QUEUED
    )
    supplier_ref = models.CharField(max_length=120, blank=True)
    tries = models.PositiveSmallIntegerField(default=0, help_text="Calls made for this attempt.")
    next_try_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    error_kind = models.CharField(max_length=12, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    cost_currency = CurrencyField(blank=True)
    stock_reserved = models.PositiveSmallIntegerField(
        default=0, help_text="Units taken from the offer's stock for it (given back on failure)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["redemption_id", "attempt"]
        constraints = [
            models.UniqueConstraint(
                fields=["redemption", "attempt"], name="supplier_order_unique_attempt"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SupplierOrderStatus.values),
                name="supplier_order_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_try_at"], name="supplier_order_due"),
            models.Index(fields=["supplier", "status"], name="supplier_order_by_supplier"),
            # Dispatch counts each supplier's placements of the last minute (its rate limit).
            models.Index(fields=["supplier", "submitted_at"], name="supplier_order_submitted"),
        ]
        # Not catalog.change_supplier, which edits the supplier's settings too.
        permissions = [("resume_supplier", "Can take a paused supplier back into use")]

    def __str__(self) -> str:
        return f"{self.idempotency_key} ({self.status})"
