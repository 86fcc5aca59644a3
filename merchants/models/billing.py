"""What the provider bills a merchant: its billing profile, invoices and credit notes, their
lines, their history and the counters that number them.

An invoice's status moves only through ``merchants.invoices.invoice_transition``, along
``INVOICE_TRANSITIONS``; every move is an append-only ``InvoiceEvent`` row. A credit note is
an ``Invoice`` of kind ``credit_note`` that names the invoice it credits. Numbers are given
at issue from an ``InvoiceCounter`` row per kind and year, locked in the issuing
transaction, so a rolled-back issue leaves no gap.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django_countries.fields import CountryField

from core.fields import CurrencyField
from merchants.models.tenant import Merchant, acting_api_key_field

MONEY = {"max_digits": 16, "decimal_places": 4}


class BillingProfile(models.Model):
    """Who the provider invoices for a merchant. An invoice copies these details when it is
    issued, so a later edit never changes an issued invoice."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="billing_profile"
    )
    legal_name = models.CharField(max_length=200)
    address = models.TextField(help_text="Postal address, one line per line.")
    country = CountryField()
    tax_id = models.CharField(
        "Tax id / VAT number", max_length=40, blank=True, help_text="e.g. FR12345678901"
    )
    is_business = models.BooleanField(default=True)
    tax_rate_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="The tax rate charged on this merchant's invoices, in percent.",
    )
    invoice_email = models.EmailField(help_text="Where invoices are sent.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(tax_rate_percent__gte=0) & Q(tax_rate_percent__lte=100),
                name="billing_profile_tax_rate_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Billing profile of {self.merchant_id}: {self.legal_name}"


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


INVOICE_TRANSITIONS: dict[str, frozenset[str]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.ISSUED}),
    InvoiceStatus.ISSUED: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.PAID: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}

# The invoices a credit note may refer to.
CREDITABLE_STATUSES = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.PAID})


class Invoice(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="invoices")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE)
    status = models.CharField(
        max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT, editable=False
    )
    credited_invoice = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_notes",
        help_text="The invoice a credit note credits.",
    )
    number = models.CharField(max_length=20, blank=True, editable=False)
    number_year = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    number_sequence = models.PositiveIntegerField(null=True, blank=True, editable=False)
    period_start = models.DateField(help_text="The first day of the month billed.")
    period_end = models.DateField(help_text="The last day of the month billed.")
    currency = CurrencyField()
    subtotal = models.DecimalField(**MONEY, default=Decimal(0))
    tax_rate_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal(0))
    tax = models.DecimalField(**MONEY, default=Decimal(0))
    total = models.DecimalField(**MONEY, default=Decimal(0))
    tax_note = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True, help_text="Why a credit note was issued.")
    # What the invoice says about both parties, copied when it is issued.
    provider_legal_name = models.CharField(max_length=200, blank=True)
    provider_address = models.TextField(blank=True)
    provider_country = models.CharField(max_length=2, blank=True)
    provider_tax_id = models.CharField(max_length=40, blank=True)
    customer_legal_name = models.CharField(max_length=200, blank=True)
    customer_address = models.TextField(blank=True)
    customer_country = models.CharField(max_length=2, blank=True)
    customer_tax_id = models.CharField(max_length=40, blank=True)
    customer_email = models.EmailField(blank=True)
    fee_plan = models.ForeignKey(
        "merchants.FeePlan", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_on = models.DateField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True)
    payment_reference = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [
            # One live invoice per merchant and month: a void one may be drafted again.
            models.UniqueConstraint(
                fields=["merchant", "period_start"],
                condition=Q(kind="invoice") & ~Q(status="void"),
                name="invoice_one_per_month",
            ),
            models.UniqueConstraint(
                fields=["number"], condition=~Q(number=""), name="invoice_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=InvoiceStatus.values), name="invoice_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0) & Q(tax__gte=0) & Q(total=F("subtotal") + F("tax")),
                name="invoice_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(kind="invoice", credited_invoice__isnull=True)
                | Q(kind="credit_note", credited_invoice__isnull=False),
                name="invoice_credit_note_refers",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | ~Q(number=""), name="invoice_issued_numbered"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "status"], name="invoice_merchant_status")]
        permissions = [
            ("issue_invoice", "Can issue invoices"),
            ("record_invoice_payment", "Can record an invoice's payment"),
            ("void_invoice", "Can void invoices"),
            ("credit_invoice", "Can issue credit notes"),
        ]

    def __str__(self) -> str:
        label = self.get_kind_display()
        return f"{label} {self.number}" if self.number else f"Draft {label.lower()} #{self.pk}"

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=30, help_text="What the line bills, for exports.")
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    # A unit fee may be a fraction of the minor unit (0.0150 per active member).
    unit_price = models.DecimalField(max_digits=16, decimal_places=6)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["invoice_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position"),
        ]

    def __str__(self) -> str:
        return self.description


class InvoiceEvent(models.Model):
    """Append-only: who moved an invoice from which status to which, when and why."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=10, choices=InvoiceStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=InvoiceStatus.choices)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = acting_api_key_field()
    actor_label = models.CharField(max_length=150, help_text="Who acted, kept if the user goes.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"


class InvoiceCounter(models.Model):
    """The last number given to an invoice (or credit note) in a year: locked and bumped in
    the issuing transaction, so numbers run without a gap (a sequence would skip the
    numbers of rolled-back issues)."""

    kind = models.CharField(max_length=20, choices=InvoiceKind.choices)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "year"], name="invoice_counter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.year}: {self.last}"
