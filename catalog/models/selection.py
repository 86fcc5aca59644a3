from decimal import Decimal

from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from merchants.models import Merchant


class PriceRounding(models.TextChoices):
    UP = "up", "Up to the step"
    NEAREST = "nearest", "To the nearest step"


class MerchantCatalogItem(models.Model):
    """A reward a merchant offers its members, and its price in the merchant's points.

    Automatic price: the face value in the program's currency divided by the value of one
    point, times (1 + margin %), rounded to ``price_step`` points. A fixed override replaces
    it. The
    computed prices are stored (``prices``, ``min_points``/``max_points`` for filtering)
    with the exchange rate they used, recomputed when a rate, the reward's face value or
    the program's point value changes; the history keeps every previous price."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="catalog_items")
    reward = models.ForeignKey(
        "catalog.Reward", on_delete=models.PROTECT, related_name="catalog_items"
    )
    is_enabled = models.BooleanField(default=True)
    margin_percent = models.DecimalField(
        max_digits=6, decimal_places=2, default=Decimal(0), help_text="Added to the price, in %."
    )
    price_step = models.PositiveIntegerField(
        default=10, help_text="Prices are rounded to a multiple of this many points."
    )
    price_rounding = models.CharField(
        max_length=10, choices=PriceRounding.choices, default=PriceRounding.UP
    )
    fixed_prices = models.JSONField(
        default=dict,
        blank=True,
        help_text='Override, per listed denomination: {"25": 2000, "50": 3900}.',
    )
    fixed_points_per_unit = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Override for range rewards: points per unit of face value.",
    )
    allowed_tiers = models.ManyToManyField(
        "loyalty.Tier", blank=True, related_name="+", help_text="Empty: every member."
    )
    audience_segment = models.ForeignKey(
        "loyalty.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="catalog_items",
        help_text="Only members of this segment see and redeem it; empty: every member.",
    )
    unlocked_by = models.ForeignKey(
        "loyalty.Campaign",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="unlocked_items",
        limit_choices_to={"effect": "unlock_reward"},
        help_text="Only while this campaign runs, for the members it targets (not its "
        "control group).",
    )
    unlocked_by_achievement = models.ForeignKey(
        "loyalty.Achievement",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="unlocked_items",
        help_text="Only for members who completed this achievement.",
    )
    limit_per_month = models.PositiveIntegerField(null=True, blank=True)
    limit_ever = models.PositiveIntegerField(null=True, blank=True)
    # Computed by catalog.pricing; never typed in.
    points_per_unit = models.DecimalField(
        max_digits=20, decimal_places=8, null=True, blank=True, editable=False
    )
    prices = models.JSONField(default=dict, blank=True, editable=False)
    min_points = models.BigIntegerField(null=True, blank=True, editable=False)
    max_points = models.BigIntegerField(null=True, blank=True, editable=False)
    rate_used = models.DecimalField(
        max_digits=24, decimal_places=10, null=True, blank=True, editable=False
    )
    exchange_rate = models.ForeignKey(
        "loyalty.ExchangeRate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    point_value_used = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True, editable=False
    )
    priced_at = models.DateTimeField(null=True, blank=True, editable=False)
    pricing_error = models.CharField(max_length=300, blank=True, editable=False)
    needs_review = models.BooleanField(default=False, editable=False)
    review_note = models.CharField(max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["created_at", "updated_at"])

    class Meta:
        ordering = ["merchant_id", "reward_id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "reward"], name="catalog_item_unique"),
            models.CheckConstraint(condition=Q(price_step__gt=0), name="catalog_item_step_gt0"),
            models.CheckConstraint(
                condition=Q(margin_percent__gte=0) & Q(margin_percent__lte=1000),
                name="catalog_item_margin_range",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "is_enabled", "min_points"], name="catalog_item_list")
        ]

    def __str__(self) -> str:
        return f"{self.reward} for {self.merchant}"
