from django.conf import settings
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords

from core.fields import CurrencyField


class RewardType(models.TextChoices):
    GIFT_CARD = "gift_card", "Gift card"
    VOUCHER = "voucher", "Voucher or discount code"
    PHYSICAL = "physical", "Physical item"
    DONATION = "donation", "Donation"
    EXPERIENCE = "experience", "Experience"


class RewardStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    RETIRED = "retired", "Retired"


class DenominationKind(models.TextChoices):
    FIXED = "fixed", "A fixed list of values"
    RANGE = "range", "Any value in a range, by a step"


# What delivery can ask of the member.
RECIPIENT_FIELDS = ("email", "phone", "postal_address")


class Reward(models.Model):
    """What members see and redeem. Never deleted: a retired reward stays, so past
    redemptions keep what they bought. Changes of face value, status and countries are
    kept in its history (who, when, before and after)."""

    brand = models.ForeignKey("catalog.Brand", on_delete=models.PROTECT, related_name="rewards")
    type = models.CharField(max_length=20, choices=RewardType.choices)
    slug = models.SlugField(
        max_length=160, unique=True, help_text="Stable identifier (imports match on it)."
    )
    name = models.CharField(max_length=160)
    description = models.TextField(blank=True)
    countries = CountryField(
        multiple=True, help_text="Where it can be redeemed; members elsewhere never see it."
    )
    face_currency = CurrencyField()
    denomination_kind = models.CharField(
        max_length=10, choices=DenominationKind.choices, default=DenominationKind.FIXED
    )
    denominations = models.JSONField(
        default=list,
        blank=True,
        help_text='Fixed values, as text: ["10", "25", "50"] (fixed kind only).',
    )
    min_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    max_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    step = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    image = models.ImageField(upload_to="rewards/", blank=True)
    terms = models.TextField(blank=True)
    delivered_expiry_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="How long the delivered reward stays valid; empty: never."
    )
    recipient_fields = models.JSONField(
        default=list,
        blank=True,
        help_text='What delivery needs: "email", "phone", "postal_address".',
    )
    status = models.CharField(
        max_length=10, choices=RewardStatus.choices, default=RewardStatus.DRAFT, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The history tracks the default-language texts; the per-locale columns that
    # django-modeltranslation adds (see catalog/translation.py) are left out.
    history = HistoricalRecords(
        excluded_fields=[
            "created_at",
            "updated_at",
            "image",
            *(
                f"{name}_{code}"
                for name in ("name", "description", "terms")
                for code, _ in settings.LANGUAGES
            ),
        ],
        cascade_delete_history=False,
    )

    class Meta:
        ordering = ["brand__name", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=RewardType.values), name="reward_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RewardStatus.values), name="reward_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(denomination_kind="fixed")
                | (
                    Q(denomination_kind="range")
                    & Q(min_value__gt=0)
                    & Q(max_value__gte=models.F("min_value"))
                    & Q(step__gt=0)
                ),
                name="reward_range_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.name
