"""The tenant: merchants, their onboarding, stores, API keys, portal users and fee plans.

A merchant's status moves only through
``merchants.services.lifecycle.merchant_transition``, along ``MERCHANT_TRANSITIONS``; every
move, checklist tick and key issued or revoked is an append-only ``MerchantEvent`` row, so
the admin can show who did what, when and why.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField
from rest_framework_api_key.models import AbstractAPIKey
from timezone_field import TimeZoneField

from core.currency import is_quantized_for
from core.fields import CurrencyField, EncryptedTextField


class MerchantStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    LIVE = "live", "Live"
    SUSPENDED = "suspended", "Suspended"
    OFFBOARDED = "offboarded", "Offboarded"


MERCHANT_TRANSITIONS: dict[str, frozenset[str]] = {
    MerchantStatus.APPLIED: frozenset({MerchantStatus.IN_REVIEW}),
    MerchantStatus.IN_REVIEW: frozenset({MerchantStatus.APPROVED, MerchantStatus.REJECTED}),
    MerchantStatus.APPROVED: frozenset({MerchantStatus.LIVE}),
    MerchantStatus.REJECTED: frozenset(),
    MerchantStatus.LIVE: frozenset({MerchantStatus.SUSPENDED, MerchantStatus.OFFBOARDED}),
    MerchantStatus.SUSPENDED: frozenset({MerchantStatus.LIVE, MerchantStatus.OFFBOARDED}),
    MerchantStatus.OFFBOARDED: frozenset(),
}

# Approved merchants may call the API so that their integration can be tested before
# going live; every other status is refused.
API_ENABLED_STATUSES = frozenset({MerchantStatus.APPROVED, MerchantStatus.LIVE})


class ChecklistItem(models.TextChoices):
    BUSINESS_VERIFIED = "business_verified", "Business verified"
    CONTRACT_SIGNED = "contract_signed", "Contract signed"
    FEE_PLAN_SET = "fee_plan_set", "Fee plan set"
    PROGRAM_CONFIGURED = "program_configured", "Program configured"
    CATALOG_SELECTED = "catalog_selected", "Catalog selected"
    INTEGRATION_TESTED = "integration_tested", "Integration tested"


def new_config_version() -> str:
    return uuid.uuid4().hex


class Merchant(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    legal_name = models.CharField(max_length=200, blank=True)
    country = CountryField()
    default_currency = CurrencyField(help_text="ISO 4217 code, e.g. EUR.")
    timezone = TimeZoneField(default="UTC", use_pytz=False)
    contact_email = models.EmailField(blank=True)
    status = models.CharField(
        max_length=20,
        choices=MerchantStatus.choices,
        default=MerchantStatus.APPLIED,
        editable=False,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A fresh random token whenever configuration that request handling caches changes
    # (database triggers of the apps that own it set it: the loyalty program, its tiers and
    # rules). Caches key on it, so a change is seen by the next request of every process.
    config_version = models.CharField(max_length=32, default=new_config_version, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=MerchantStatus.values), name="merchant_status_valid"
            ),
        ]
        permissions = [
            (
                "transition_merchant",
                "Can move merchants through onboarding (review, approve, reject, go live, "
                "suspend, offboard)",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class OnboardingChecklistItem(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="checklist")
    item = models.CharField(max_length=40, choices=ChecklistItem.choices)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["merchant_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "item"], name="checklist_item_unique"),
        ]

    def __str__(self) -> str:
        return self.get_item_display()

    @property
    def done(self) -> bool:
        return self.completed_at is not None


def acting_api_key_field() -> models.ForeignKey:
    """The store's API key that acted, on a change row or a ledger entry (beside the user
    who acted; see ``core.actors``). Deleting a key keeps the row and clears this."""
    return models.ForeignKey(
        "merchants.MerchantAPIKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The store's API key that acted, when one did.",
    )


class MerchantEvent(models.Model):
    """Append-only history of a merchant: status changes, checklist ticks, key changes,
    stores and their webhook secrets, portal memberships, edits of its details; each names
    who acted."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        STATUS_CHANGED = "status_changed", "Status changed"
        CHECKLIST_COMPLETED = "checklist_completed", "Checklist item completed"
        CHECKLIST_REOPENED = "checklist_reopened", "Checklist item reopened"
        API_KEY_ISSUED = "api_key_issued", "API key issued"
        API_KEY_REVOKED = "api_key_revoked", "API key revoked"
        STORE_CREATED = "store_created", "Store created"
        WEBHOOK_SECRET_SET = "webhook_secret_set", "Store webhook secret set"
        MEMBERSHIP_SET = "membership_set", "Portal membership set"
        DETAILS_CHANGED = "details_changed", "Details changed"
        WEBHOOK_ENDPOINT_CHANGED = "webhook_endpoint", "Webhook endpoint changed"
        PORTAL_VIEWED_AS = "portal_viewed_as", "Portal viewed as the merchant (read-only)"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    from_status = models.CharField(max_length=20, choices=MerchantStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=MerchantStatus.choices, blank=True)
    checklist_item = models.CharField(max_length=40, choices=ChecklistItem.choices, blank=True)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = acting_api_key_field()
    actor_label = models.CharField(max_length=150, help_text="Who acted, kept if the user goes.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="merchant_event_recent")]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    MAGENTO = "magento", "Magento"
    LIGHTSPEED = "lightspeed", "Lightspeed"
    CUSTOM = "custom", "Custom"


class EarnOn(models.TextChoices):
    """Which state of a platform's order earns points."""

    PAID = "paid", "When paid"
    FULFILLED = "fulfilled", "When fulfilled"


class Store(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="stores")
    name = models.CharField(max_length=200)
    platform = models.CharField(max_length=20, choices=Platform.choices)
    domain = models.CharField(
        max_length=253, help_text="The shop's host name, e.g. shop.example.com"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook_secret = EncryptedTextField(
        editable=False, help_text="Signs the platform's webhooks (HMAC). Encrypted at rest."
    )
    # After a rotation the platform may sign with the old secret for a while (Shopify
    # applies a new one within the hour): the previous secret stays valid that long.
    previous_webhook_secret = EncryptedTextField(blank=True, editable=False)
    webhook_secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    earn_on = models.CharField(
        max_length=10,
        choices=EarnOn.choices,
        default=EarnOn.PAID,
        help_text="Which orders from the platform's webhooks earn points.",
    )
    earn_on_tax = models.BooleanField(
        default=False, help_text="Whether the tax on an order earns points."
    )
    earn_on_shipping = models.BooleanField(
        default=False, help_text="Whether the shipping on an order earns points."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The store's rhythm, learned from its events (merchants.silence): when it last sent
    # something, from how many gaps, its usual gap and longest quiet spell (seconds), and
    # when its silence becomes longer than usual.
    last_event_at = models.DateTimeField(null=True, blank=True, editable=False)
    event_gaps = models.PositiveIntegerField(default=0, editable=False)
    usual_event_gap = models.PositiveIntegerField(default=0, editable=False)
    longest_event_gap = models.PositiveIntegerField(default=0, editable=False)
    silent_after = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["merchant_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "domain"], name="store_domain_unique"),
        ]
        indexes = [
            # The home's "silent stores": active stores past their silent_after.
            models.Index(
                fields=["silent_after"],
                name="store_silent_after",
                condition=models.Q(is_active=True),
            ),
        ]
        permissions = [("set_webhook_secret", "Can set or rotate a store's webhook secret")]

    def __str__(self) -> str:
        return f"{self.name} ({self.domain})"


class Scope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    ADJUST = "adjust", "Adjust points"
    CODES = "codes", "Read delivered reward codes"


class MerchantAPIKey(AbstractAPIKey):
    """A store integration's credential: only its SHA-512 hash and visible prefix are kept."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    scopes = models.JSONField(default=list)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        indexes = [models.Index(fields=["merchant", "-created"], name="api_key_merchant_recent")]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class MembershipRole(models.TextChoices):
    OWNER = "owner", "Owner"
    ANALYST = "analyst", "Analyst"
    SUPPORT = "support", "Support"


class MerchantMembership(models.Model):
    """A merchant-portal user: one Django user, one merchant, one role."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merchant_memberships"
    )
    role = models.CharField(max_length=20, choices=MembershipRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["merchant_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "user"], name="membership_unique"),
            models.CheckConstraint(
                condition=Q(role__in=MembershipRole.values), name="membership_role_valid"
            ),
        ]
        permissions = [
            (
                "reset_second_factor",
                "Can reset a portal user's second factor (after a verified request)",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"


class FeePlan(models.Model):
    """How the provider bills a merchant from ``valid_from`` on. Plans are never edited: a
    new plan with a later ``valid_from`` supersedes the old one, so past invoices keep the
    terms they were built on."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="fee_plans")
    currency = CurrencyField()
    monthly_platform_fee = models.DecimalField(max_digits=14, decimal_places=4)
    fee_per_active_member = models.DecimalField(max_digits=14, decimal_places=4)
    fee_per_redemption = models.DecimalField(max_digits=14, decimal_places=4)
    reward_margin_percent = models.DecimalField(
        max_digits=7, decimal_places=3, help_text="Margin on reward value, in percent."
    )
    valid_from = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["merchant_id", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "valid_from"], name="fee_plan_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(monthly_platform_fee__gte=0)
                & Q(fee_per_active_member__gte=0)
                & Q(fee_per_redemption__gte=0),
                name="fee_plan_fees_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(reward_margin_percent__gte=0) & Q(reward_margin_percent__lte=100),
                name="fee_plan_margin_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant} from {self.valid_from} ({self.currency})"

    def clean(self) -> None:
        # The unit fees may be fractions of the minor unit (billed in bulk); the monthly
        # fee is charged as is, so it must fit the currency's minor unit.
        fee = self.monthly_platform_fee
        if self.currency and fee is not None and not is_quantized_for(Decimal(fee), self.currency):
            raise ValidationError(
                {"monthly_platform_fee": f"{self.currency} has fewer decimal places than that."}
            )


class IdempotencyRecord(models.Model):
    """A POST made with an ``Idempotency-Key``: the first response, replayed to repeats.

    ``status_code`` is null while the first request is still being processed. The body is
    kept as the bytes that were sent (a ``jsonb`` column would reorder its keys), so a
    replay is byte for byte the first response."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_bytes = models.BinaryField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}:{self.key}"


class UsageKind(models.TextChoices):
    REDEMPTION = "redemption", "Delivered redemption"
    # One record per merchant and month, ``quantity`` the members active in it; its
    # ``fee`` is 0: the invoice prices it from the fee plan.
    ACTIVE_MEMBERS = "active_members", "Active members in a month"


class UsageRecord(models.Model):
    """Something billable that happened for a merchant, posted by the app where it
    happened (through ``merchants.services.billing.usage_record_post``) and never changed
    after: invoices are built from these rows alone. Amounts are in ``currency`` (the fee
    plan's, when the merchant has one); ``fee`` is what the plan charges for it."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="usage")
    kind = models.CharField(max_length=20, choices=UsageKind.choices)
    source_ref = models.CharField(
        max_length=120, help_text="What it was, e.g. the redemption's id; posted once."
    )
    occurred_at = models.DateTimeField()
    quantity = models.PositiveIntegerField(default=1)
    currency = CurrencyField()
    reward_value = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal(0))
    cost = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    fee = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal(0))
    fee_plan = models.ForeignKey(
        "merchants.FeePlan", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["merchant_id", "-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind", "source_ref"], name="usage_posted_once"
            ),
            models.CheckConstraint(
                condition=Q(reward_value__gte=0) & Q(fee__gte=0), name="usage_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "kind", "occurred_at"], name="usage_period")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.source_ref} for {self.merchant}"


class MerchantBrand(models.Model):
    """The merchant's brand in its portal and its reports: the colour of links, buttons
    and headings (made darker where needed to stay readable on white), and the logo."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, primary_key=True, related_name="brand"
    )
    colour = models.CharField(
        max_length=7,
        blank=True,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour as #RRGGBB, e.g. #1d4ed8.")],
        help_text="#RRGGBB; empty for the portal's own blue.",
    )
    logo = models.ImageField(
        upload_to="merchants/logos/",
        blank=True,
        help_text="PNG or JPEG, shown in the portal's header and on the monthly reports.",
    )
    sender_name = models.CharField(
        max_length=80,
        blank=True,
        help_text="The name members' emails come from; empty: the merchant's.",
    )
    shop_url = models.URLField(
        blank=True, help_text="The store's address, for “back to the shop” and the emails' links."
    )

    class Meta:
        verbose_name = "brand"

    def __str__(self) -> str:
        return f"{self.merchant} brand"


class MonthlyReport(models.Model):
    """A merchant's program report for one calendar month, as the PDF that was sent.

    ``is_final`` once the month is over and the first-of-month job made it; before that a
    merchant may make a draft of the month so far, made again on each request. The PDF is
    kept in the database, not on a disk, so every web host serves the same file."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="reports")
    month = models.DateField(help_text="The first day of the month reported.")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    is_final = models.BooleanField(default=False)
    pdf = models.BinaryField(editable=False)
    pages = models.PositiveSmallIntegerField(default=0, editable=False)
    generated_at = models.DateTimeField(editable=False)
    generated_by = models.CharField(max_length=150, editable=False)
    notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["merchant_id", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "month"], name="monthly_report_once"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant} {self.month:%Y-%m}{'' if self.is_final else ' (draft)'}"
