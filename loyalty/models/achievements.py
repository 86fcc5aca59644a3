"""Achievements: milestones and streaks of a program (``loyalty.achievements``).

An ``AchievementOccurrence`` is one qualifying order, activity, redemption or referral of
a member, kept once per (achievement, member, source): a replayed order finds its row and
counts nothing more. A refund before completion marks it reversed. Progress is computed
from the occurrences that no completion consumed yet (``loyalty.achievements.windows``);
an ``AchievementCompletion`` is unique per (achievement, member, period), so its reward
is given once whatever the concurrency.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from loyalty.models.ledger import LedgerEntry
from loyalty.models.member import Member
from loyalty.models.program import Program
from loyalty.models.segments import Segment
from merchants.models import Merchant


class AchievementTrigger(models.TextChoices):
    ORDER = "order", "Orders"
    ACTIVITY = "activity", "An activity"
    REDEMPTION = "redemption", "Redemptions"
    REFERRAL = "referral", "Qualified referrals"


class AchievementMeasure(models.TextChoices):
    COUNT = "count", "How many times"
    SPEND = "spend", "Amount spent, in the program's currency"
    POINTS = "points", "Points earned"


class AchievementWindow(models.TextChoices):
    OVERALL = "overall", "Overall, since it started"
    ROLLING = "rolling", "The last N days"
    STREAK = "streak", "Consecutive weeks or months (a streak)"


class AchievementUnit(models.TextChoices):
    WEEK = "week", "Week"
    MONTH = "month", "Month"


class AchievementRepeat(models.TextChoices):
    ONCE = "once", "Once ever"
    WEEK = "week", "Once a week"
    MONTH = "month", "Once a month"
    YEAR = "year", "Once a year"


class Achievement(models.Model):
    """A milestone or streak of a program. Only ``loyalty.achievements.services`` writes
    its members' progress and completions."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="achievements")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    badge = models.BinaryField(
        null=True, blank=True, editable=False, help_text="The badge as a PNG, 256 by 256 pixels."
    )
    badge_version = models.CharField(max_length=16, blank=True, editable=False)
    trigger = models.CharField(max_length=12, choices=AchievementTrigger.choices)
    activity_kind = models.CharField(
        max_length=60, blank=True, help_text="For an activity trigger: its kind, e.g. review."
    )
    measure = models.CharField(
        max_length=8, choices=AchievementMeasure.choices, default=AchievementMeasure.COUNT
    )
    goal = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="How many, how much, or (for a streak) how many periods in a row.",
    )
    window = models.CharField(
        max_length=8, choices=AchievementWindow.choices, default=AchievementWindow.OVERALL
    )
    window_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="For the last N days: N."
    )
    streak_unit = models.CharField(
        max_length=6, choices=AchievementUnit.choices, blank=True, help_text="For a streak."
    )
    repeat = models.CharField(
        max_length=6, choices=AchievementRepeat.choices, default=AchievementRepeat.ONCE
    )
    min_order_total = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Orders count from this total, in the program's currency.",
    )
    skus = models.JSONField(default=list, blank=True, help_text="Orders with one of these SKUs.")
    categories = models.JSONField(
        default=list, blank=True, help_text="Orders with a line in one of these categories."
    )
    segment = models.ForeignKey(
        Segment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only members of this segment; empty: every member.",
    )
    reward_points = models.PositiveIntegerField(default=0, help_text="Points on completion.")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=100, help_text="Lower shows first.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["program_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "name"], name="achievement_name"
            ),
            models.CheckConstraint(condition=Q(goal__gt=0), name="achievement_goal_gt0"),
            models.CheckConstraint(
                condition=~Q(window=AchievementWindow.ROLLING) | Q(window_days__gt=0),
                name="achievement_rolling_days",
            ),
            models.CheckConstraint(
                condition=~Q(window=AchievementWindow.STREAK)
                | Q(streak_unit__in=AchievementUnit.values),
                name="achievement_streak_unit",
            ),
            models.CheckConstraint(
                condition=~Q(trigger=AchievementTrigger.ACTIVITY) | ~Q(activity_kind=""),
                name="achievement_activity_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.window == AchievementWindow.ROLLING and not self.window_days:
            errors["window_days"] = "Say how many days the window holds."
        if self.window == AchievementWindow.STREAK:
            if not self.streak_unit:
                errors["streak_unit"] = "A streak counts weeks or months."
            if self.goal is not None and self.goal != int(self.goal):
                errors["goal"] = "A streak's goal is a whole number of periods."
            if self.measure != AchievementMeasure.COUNT:
                errors["measure"] = "A streak counts periods with an occurrence."
        if self.trigger == AchievementTrigger.ACTIVITY and not self.activity_kind.strip():
            errors["activity_kind"] = "Name the activity, e.g. review."
        if self.measure == AchievementMeasure.SPEND and self.trigger != AchievementTrigger.ORDER:
            errors["measure"] = "Only orders have an amount spent."
        if (
            self.measure == AchievementMeasure.COUNT
            and self.goal is not None
            and self.goal != int(self.goal)
        ):
            errors["goal"] = "Count a whole number of times."
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "The end comes after the start."
        if (
            self.segment_id is not None
            and self.merchant_id is not None
            and self.segment.merchant_id != self.merchant_id
        ):
            errors["segment"] = "Choose one of this merchant's segments."
        if errors:
            raise ValidationError(errors)


class AchievementOccurrence(models.Model):
    """One qualifying event of a member for an achievement (``source`` as
    ``order:<id>``), once. ``completion`` is set when a completion consumed it."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    achievement = models.ForeignKey(
        Achievement, on_delete=models.CASCADE, related_name="occurrences"
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=40)
    occurred_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=16, decimal_places=4)
    reversed_at = models.DateTimeField(null=True, blank=True)
    completion = models.ForeignKey(
        "loyalty.AchievementCompletion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="occurrences",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["member_id", "occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["achievement", "member", "source"], name="achievement_occurrence_once"
            ),
        ]
        indexes = [
            # Progress: a member's occurrences not consumed by a completion yet.
            models.Index(
                fields=["member", "achievement", "occurred_at"],
                condition=Q(completion__isnull=True, reversed_at__isnull=True),
                name="achievement_open_occurrences",
            ),
            # A refund: the occurrences its order made.
            models.Index(fields=["merchant", "source"], name="achievement_occurrence_source"),
        ]

    def __str__(self) -> str:
        return f"{self.source} for {self.achievement_id}"


class AchievementCompletion(models.Model):
    """That a member completed an achievement in a period (``period`` is ``ever`` for a
    once-ever achievement, else the period's start date), with what it gave."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    achievement = models.ForeignKey(
        Achievement, on_delete=models.PROTECT, related_name="completions"
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="achievements_done")
    period = models.CharField(max_length=12)
    completed_at = models.DateTimeField()
    source = models.CharField(max_length=40, help_text="What completed it, e.g. order:1043.")
    reason = models.CharField(max_length=300)
    points = models.PositiveIntegerField(default=0)
    entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-completed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["achievement", "member", "period"], name="achievement_completed_once"
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-completed_at"], name="achievement_member_done"),
            models.Index(fields=["merchant", "completed_at"], name="achievement_merchant_done"),
        ]

    def __str__(self) -> str:
        return f"{self.achievement_id} by {self.member_id} ({self.period})"


class StreakReset(models.Model):
    """A streak that broke: the nightly job records it once per (achievement, member,
    period), so the member sees it reset and when."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    achievement = models.ForeignKey(Achievement, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    length = models.PositiveIntegerField(help_text="The periods in a row it had reached.")
    broken_period = models.DateField(help_text="The first period left without an occurrence.")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["achievement", "member", "broken_period"], name="streak_reset_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.achievement_id} for {self.member_id}: {self.length} broke"
