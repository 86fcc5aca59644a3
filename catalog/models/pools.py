from django.db import models
from django.db.models import Q

from core.fields import EncryptedTextField


class CodePool(models.Model):
    """Voucher codes the provider holds itself, for one offer (its supplier is the
    provider's own warehouse). Each code is delivered once; the pool alerts ops when
    fewer than ``low_stock_threshold`` unused codes are left."""

    offer = models.OneToOneField(
        "catalog.SupplierOffer", on_delete=models.PROTECT, related_name="code_pool"
    )
    face_value = models.DecimalField(
        max_digits=14, decimal_places=4, help_text="The denomination every code of it is worth."
    )
    low_stock_threshold = models.PositiveIntegerField(default=20)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["offer_id"]
        constraints = [
            models.CheckConstraint(condition=Q(face_value__gt=0), name="pool_face_value_positive")
        ]

    def __str__(self) -> str:
        return f"Codes for {self.offer}"


class VoucherCode(models.Model):
    """One code, encrypted at rest. ``digest`` (an HMAC of the code) keeps a code from
    being uploaded twice without storing it in clear.

    A code is free, then reserved (``reserved_for`` holds the key of the supplier order
    that will deliver it, written in the redemption's transaction), then used (``used_at``
    once delivered, ``used_for`` the same key). A reservation the order no longer needs
    is cleared, and the code is free again."""

    pool = models.ForeignKey(CodePool, on_delete=models.PROTECT, related_name="codes")
    code = EncryptedTextField()
    pin = EncryptedTextField(blank=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    expires_on = models.DateField(null=True, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    reserved_for = models.CharField(
        max_length=120, blank=True, help_text="The supplier order it is held for."
    )
    reserved_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True, db_index=True)
    used_for = models.CharField(max_length=120, blank=True, help_text="What it was delivered for.")

    class Meta:
        ordering = ["pool_id", "id"]
        indexes = [
            models.Index(
                fields=["pool", "id"], condition=Q(used_at__isnull=True), name="code_unused"
            ),
            # The codes a redemption can still reserve, oldest first.
            models.Index(
                fields=["pool", "id"],
                condition=Q(used_at__isnull=True, reserved_for=""),
                name="code_free",
            ),
            models.Index(
                fields=["reserved_for"], condition=~Q(reserved_for=""), name="code_reserved_for"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(reserved_for="", reserved_at__isnull=True)
                | (~Q(reserved_for="") & Q(reserved_at__isnull=False)),
                name="code_reservation_complete",
            )
        ]

    def __str__(self) -> str:
        return f"code #{self.pk} of {self.pool}"
