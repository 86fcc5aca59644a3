from django.conf import settings
from django.db import models

from core.fields import EncryptedTextField


class DeliveredCode(models.Model):
    """A code, PIN or claim link a supplier delivered for a redemption, encrypted at rest.
    Every time staff or an integration reads it in clear is a ``CodeReveal``."""

    redemption = models.ForeignKey(
        "fulfillment.Redemption", on_delete=models.CASCADE, related_name="codes"
    )
    supplier_order = models.ForeignKey(
        "fulfillment.SupplierOrder", on_delete=models.PROTECT, related_name="codes"
    )
    code = EncryptedTextField()
    pin = EncryptedTextField(blank=True)
    claim_url = EncryptedTextField(blank=True)
    expires_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["redemption_id", "id"]
        permissions = [("reveal_code", "Can read delivered codes in clear")]

    def __str__(self) -> str:
        return f"code #{self.pk} of redemption {self.redemption_id}"

    @property
    def masked(self) -> str:
        return f"••••{self.code[-4:]}" if len(self.code) > 6 else "••••"


class CodeReveal(models.Model):
    """Who saw a delivered code in clear, when, and how (append-only)."""

    code = models.ForeignKey(DeliveredCode, on_delete=models.CASCADE, related_name="reveals")
    at = models.DateTimeField(auto_now_add=True)
    via = models.CharField(max_length=20, help_text='"admin", "api" or "claim_page".')
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key_prefix = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"code #{self.code_id} seen via {self.via} at {self.at:%Y-%m-%d %H:%M}"
