"""Campaigns: personalized incentives of a program, for all its members or some segments,
with a budget, caps per member and a control group (``loyalty.campaigns``)."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from loyalty.models.ledger import LedgerEntry
from loyalty.models.member import Member
from loyalty.models.orders import Activity, Order
from loyalty.models.program import Program
from loyalty.models.segments import Segment


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    ENDED = "ended", "Ended"


# Where each status may go; ``loyalty.campaigns.services.campaign_transition`` applies it.
CAMPAIGN_TRANSITIONS: dict[str, tuple[str, ...]] = {
    CampaignStatus.DRAFT: (CampaignStatus.SCHEDULED, CampaignStatus.ENDED),
    CampaignStatus.SCHEDULED: (CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.ENDED),
    CampaignStatus.RUNNING: (CampaignStatus.PAUSED, CampaignStatus.ENDED),
    CampaignStatus.PAUSED: (CampaignStatus.RUNNING, CampaignStatus.ENDED),
    CampaignStatus.ENDED: (),
}


class CampaignEffect(models.TextChoices):
    MULTIPLIER = "multiplier", "Multiply the base points"
    PER_UNIT = "per_unit", "Extra points per currency unit on categories or SKUs"
    ORDER_BONUS = "order_bonus", "Fixed bonus on orders above a minimum"
    ACTIVITY_BONUS = "activity_bonus", "Bonus on an activity"
    UNLOCK_REWARD = "unlock_reward", "Unlock catalog rewards"
    COUPON = "coupon", "A coupon code from a pool, once per member"


class Stacking(models.TextChoices):
    STACKABLE = "stackable", "Stackable: adds to other campaigns"
    EXCLUSIVE = "exclusive", "Exclusive: only the first exclusive campaign by priority"
    BEST = "best", "Best for member: only the one that gives most"


class CampaignCap(models.TextChoices):
    NONE = "none", "No cap"
    EVER = "ever", "Once per member (or N times)"
    DAY = "day", "Per day"
    MONTH = "month", "Per month"


class Campaign(models.Model):
    """One incentive of a program. Its terms are part of the program's configuration
    (cached by ``Merchant.config_version``, which triggers renew on every write here);
    the points it gave live in ``CampaignSpend``, written with every award."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT, editable=False
    )
    segments = models.ManyToManyField(
        Segment,
        blank=True,
        related_name="campaigns",
        help_text="Members of any of these segments; none: every member.",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    priority = models.PositiveIntegerField(default=100, help_text="Lower comes first.")
    stacking = models.CharField(max_length=10, choices=Stacking.choices, default=Stacking.STACKABLE)
    effect = models.CharField(max_length=16, choices=CampaignEffect.choices)
    multiplier = models.DecimalField(
        max_digits=8, decimal_places=3, null=True, blank=True, help_text="x2 doubles base points."
    )
    points_per_unit = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    bonus_points = models.PositiveIntegerField(null=True, blank=True)
    min_order_total = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="In the program's currency.",
    )
    activity_kind = models.CharField(max_length=60, blank=True)
    include_skus = models.JSONField(default=list, blank=True)
    include_categories = models.JSONField(default=list, blank=True)
    points_budget = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Points it may give in all; empty: no limit."
    )
    cap_period = models.CharField(
        max_length=8, choices=CampaignCap.choices, default=CampaignCap.NONE
    )
    cap_count = models.PositiveIntegerField(
        default=1, help_text="How many times per period a member can get it."
    )
    holdout_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(0), MaxValueValidator(50)],
        help_text="A control group: this share of the targeted members gets nothing.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["program_id", "priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="campaign_unique_name"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="campaign_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(holdout_percent__gte=0) & Q(holdout_percent__lte=50),
                name="campaign_holdout_range",
            ),
            models.CheckConstraint(
                condition=~Q(effect=CampaignEffect.MULTIPLIER) | Q(multiplier__gt=1),
                name="campaign_multiplier_gt1",
            ),
            models.CheckConstraint(
                condition=~Q(effect=CampaignEffect.PER_UNIT) | Q(points_per_unit__gt=0),
                name="campaign_per_unit_points",
            ),
            models.CheckConstraint(
                condition=~Q(effect__in=[CampaignEffect.ORDER_BONUS, CampaignEffect.ACTIVITY_BONUS])
                | Q(bonus_points__gt=0),
                name="campaign_bonus_points",
            ),
            models.CheckConstraint(
                condition=~Q(effect=CampaignEffect.ACTIVITY_BONUS) | ~Q(activity_kind=""),
                name="campaign_activity_kind",
            ),
            models.CheckConstraint(condition=Q(cap_count__gt=0), name="campaign_cap_count_gt0"),
        ]
        permissions = [
            ("transition_campaign", "Can schedule, start, pause and end campaigns"),
            ("export_campaign", "Can export a campaign's report"),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignSpend(models.Model):
    """What a campaign gave, apart from its terms so that writing it with each award never
    renews the program's configuration. The budget holds through a conditional update of
    this row in the order's transaction (``points_given + n <= budget``)."""

    campaign = models.OneToOneField(
        Campaign, on_delete=models.CASCADE, primary_key=True, related_name="spend"
    )
    points_given = models.BigIntegerField(default=0)
    awards = models.PositiveIntegerField(default=0)
    exhausted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(points_given__gte=0), name="campaign_spend_gte0"),
        ]

    def __str__(self) -> str:
        return f"{self.points_given} points"


class CampaignEvent(models.Model):
    """A move of a campaign's status: who (a user, or nobody for the scheduler), when, why."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    reason = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} → {self.to_status}"


class CampaignAward(models.Model):
    """That a campaign gave a member something once (points, or a coupon): what caps
    count and the report's "reached" means."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="awards")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey(
        LedgerEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    activity = models.ForeignKey(
        Activity, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    points = models.PositiveBigIntegerField(default=0)
    awarded_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["member", "campaign", "awarded_at"], name="campaign_award_cap"),
            models.Index(fields=["campaign", "member"], name="campaign_award_report"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} for {self.member_id}"


class CampaignCoupon(models.Model):
    """One code of a coupon campaign's pool, handed to one member at most once."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="coupons")
    code = models.CharField(max_length=64)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.CASCADE, related_name="coupons"
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "code"], name="coupon_unique_code"),
            models.UniqueConstraint(
                fields=["campaign", "member"],
                condition=Q(member__isnull=False),
                name="coupon_once_per_member",
            ),
        ]
        indexes = [
            models.Index(
                fields=["campaign", "id"], condition=Q(member__isnull=True), name="coupon_free"
            )
        ]

    def __str__(self) -> str:
        return self.code
