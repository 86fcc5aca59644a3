"""A merchant's program: its points, earn rate, pending period, expiry, rules and tiers."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from core.fields import CurrencyField
from merchants.models import Merchant, Store


class Rounding(models.TextChoices):
    DOWN = "down", "Round down"
    HALF_UP = "half_up", "Round half up"


class ExpiryPolicy(models.TextChoices):
    NEVER = "never", "Points never expire"
    LOT_AGE = "lot_age", "Each lot expires N months after it was earned"
    INACTIVITY = "inactivity", "All points expire after N months without activity"


class TierBasis(models.TextChoices):
    POINTS = "points", "Points earned in the window"
    SPEND = "spend", "Amount spent in the window"


class Program(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="programs")
    name = models.CharField(max_length=120)
    points_name = models.CharField(max_length=40, default="Points", help_text='e.g. "Stars"')
    currency = CurrencyField(help_text="The merchant's currency; orders in others are converted.")
    point_value = models.DecimalField(
        max_digits=14, decimal_places=6, help_text="What one point is worth, in the currency."
    )
    base_earn_rate = models.DecimalField(
        max_digits=12, decimal_places=4, help_text="Points per currency unit spent."
    )
    rounding = models.CharField(max_length=10, choices=Rounding.choices, default=Rounding.DOWN)
    pending_days = models.PositiveIntegerField(
        default=30, help_text="Points from an order wait this long (the return window)."
    )
    expiry_policy = models.CharField(
        max_length=12, choices=ExpiryPolicy.choices, default=ExpiryPolicy.NEVER
    )
    expiry_months = models.PositiveSmallIntegerField(null=True, blank=True)
    tiers_enabled = models.BooleanField(default=False)
    tier_basis = models.CharField(
        max_length=10, choices=TierBasis.choices, default=TierBasis.POINTS
    )
    tier_window_months = models.PositiveSmallIntegerField(default=12)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant_id", "-is_active", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant"], condition=Q(is_active=True), name="program_one_active"
            ),
            models.CheckConstraint(condition=Q(point_value__gt=0), name="program_point_value_gt0"),
            models.CheckConstraint(condition=Q(base_earn_rate__gte=0), name="program_rate_gte0"),
            models.CheckConstraint(
                condition=Q(expiry_policy=ExpiryPolicy.NEVER)
                | Q(expiry_months__isnull=False, expiry_months__gt=0),
                name="program_expiry_months_set",
            ),
            models.CheckConstraint(
                condition=Q(tier_window_months__gt=0), name="program_tier_window_gt0"
            ),
        ]
        permissions = [("simulate_order", "Can simulate what an order would earn")]

    def __str__(self) -> str:
        return f"{self.name} ({self.merchant})"


class Tier(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=60)
    threshold = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Points earned, or amount spent, within the program's window.",
    )
    multiplier = models.DecimalField(max_digits=6, decimal_places=3, default=1)
    benefits = models.TextField(blank=True)

    class Meta:
        ordering = ["program_id", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="tier_unique_name"),
            models.UniqueConstraint(fields=["program", "threshold"], name="tier_unique_threshold"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="tier_threshold_gte0"),
            models.CheckConstraint(condition=Q(multiplier__gt=0), name="tier_multiplier_gt0"),
        ]

    def __str__(self) -> str:
        return self.name


class RuleKind(models.TextChoices):
    PURCHASE_RATE = "purchase_rate", "Extra points per currency unit on matching lines"
    PURCHASE_MULTIPLIER = "purchase_multiplier", "Multiply base points of matching lines"
    PURCHASE_BONUS = "purchase_bonus", "Fixed bonus on a matching order"
    ACTIVITY_BONUS = "activity_bonus", "Fixed points for an activity"


class CapPeriod(models.TextChoices):
    NONE = "none", "No cap"
    EVER = "ever", "Ever"
    DAY = "day", "Per day"
    MONTH = "month", "Per month"
    YEAR = "year", "Per year"


class EarningRule(models.Model):
    """A rule of a program. Editing a rule never changes points already earned: the ledger
    keeps what each order and activity earned, and ``RuleAward`` which rules gave it."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=24, choices=RuleKind.choices)
    priority = models.PositiveIntegerField(default=100, help_text="Lower runs first.")
    is_active = models.BooleanField(default=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    points_per_unit = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    multiplier = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    bonus_points = models.PositiveIntegerField(null=True, blank=True)
    activity_kind = models.CharField(max_length=60, blank=True)
    min_order_total = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    include_skus = models.JSONField(default=list, blank=True)
    exclude_skus = models.JSONField(default=list, blank=True)
    include_categories = models.JSONField(default=list, blank=True)
    exclude_categories = models.JSONField(default=list, blank=True)
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.CASCADE, help_text="Only this channel."
    )
    cap_period = models.CharField(max_length=8, choices=CapPeriod.choices, default=CapPeriod.NONE)
    cap_count = models.PositiveIntegerField(
        default=1, help_text="How many times per period a member can get it."
    )
    segment = models.ForeignKey(
        "loyalty.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rules",
        help_text="Only members of this segment; empty: every member.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["program_id", "priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind=RuleKind.PURCHASE_RATE) | Q(points_per_unit__gt=0),
                name="rule_rate_needs_points_per_unit",
            ),
            models.CheckConstraint(
                condition=~Q(kind=RuleKind.PURCHASE_MULTIPLIER) | Q(multiplier__gt=1),
                name="rule_multiplier_needs_multiplier",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[RuleKind.PURCHASE_BONUS, RuleKind.ACTIVITY_BONUS])
                | Q(bonus_points__gt=0),
                name="rule_bonus_needs_points",
            ),
            models.CheckConstraint(
                condition=~Q(kind=RuleKind.ACTIVITY_BONUS) | ~Q(activity_kind=""),
                name="rule_activity_needs_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if (
            self.segment_id is not None
            and self.program_id is not None
            and self.segment.merchant_id != self.program.merchant_id
        ):
            raise ValidationError({"segment": "Choose one of this merchant's segments."})


class RuleAward(models.Model):
    """That a rule gave a member points once: what caps count."""

    rule = models.ForeignKey(EarningRule, on_delete=models.PROTECT, related_name="awards")
    member = models.ForeignKey("loyalty.Member", on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey("loyalty.LedgerEntry", on_delete=models.CASCADE, related_name="+")
    awarded_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["member", "rule", "awarded_at"], name="award_cap_lookup")]

    def __str__(self) -> str:
        return f"{self.rule_id} for {self.member_id}"
