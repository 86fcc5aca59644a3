from decimal import Decimal

from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords

from core.fields import CurrencyField, EncryptedTextField


class SupplierKind(models.TextChoices):
    AGGREGATOR = "aggregator", "Gift-card aggregator"
    PRINT_SHIP = "print_ship", "Print-and-ship partner"
    WAREHOUSE = "warehouse", "Own warehouse / code pools"
    CHARITY = "charity", "Charity platform"


class Supplier(models.Model):
    """Who the provider buys rewards from, and through which fulfillment adapter."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=20, choices=SupplierKind.choices)
    adapter = models.CharField(
        max_length=60, help_text="The fulfillment adapter that places its orders."
    )
    adapter_config = EncryptedTextField(
        blank=True,
        editable=False,
        help_text="The adapter's settings as a JSON object (base URL, credentials, ...), "
        "encrypted at rest; written only by ``catalog.services.supplier_save``, checked "
        "against the adapter's settings schema. Never shown: secrets are masked.",
    )
    invoice_currency = CurrencyField(help_text="The currency its invoices are in.")
    is_active = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        default=60, help_text="Orders per minute the supplier accepts from us."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            (
                "change_supplier_credentials",
                "Can change supplier credentials and where they are sent",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=SupplierKind.values), name="supplier_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(rate_limit_per_minute__gt=0), name="supplier_rate_limit_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SupplierOffer(models.Model):
    """How a reward is bought in one country: from which supplier, under which SKU, at
    what cost. Fulfillment takes the cheapest available offer and fails over to the next
    (``preference`` breaks ties, lower first)."""

    reward = models.ForeignKey("catalog.Reward", on_delete=models.CASCADE, related_name="offers")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="offers")
    supplier_sku = models.CharField(max_length=120)
    country = CountryField()
    cost_currency = CurrencyField()
    discount_percent = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        default=Decimal(0),
        help_text="What the supplier takes off face value, in percent.",
    )
    fee = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        default=Decimal(0),
        help_text="A fixed fee per unit, in the cost currency.",
    )
    stock = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Units left (physical items); empty for unlimited digital stock. Code "
        "pools count their unused codes instead.",
    )
    preference = models.PositiveSmallIntegerField(default=100, help_text="Lower is tried first.")
    is_active = models.BooleanField(default=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(
        excluded_fields=["created_at", "updated_at", "last_synced_at"], cascade_delete_history=False
    )

    class Meta:
        ordering = ["reward_id", "country", "preference", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["supplier", "supplier_sku", "country"], name="offer_unique_supplier_sku"
            ),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0) & Q(discount_percent__lt=100),
                name="offer_discount_range",
            ),
            models.CheckConstraint(condition=Q(fee__gte=0), name="offer_fee_not_negative"),
        ]
        indexes = [models.Index(fields=["reward", "country"], name="offer_reward_country")]

    def __str__(self) -> str:
        return f"{self.supplier} {self.supplier_sku} ({self.country})"
