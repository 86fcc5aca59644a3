from django.db import models
from django.db.models import Q

from core.fields import CurrencyField
from loyalty.models.member import Member
from loyalty.models.rates import ExchangeRate
from merchants.models import Merchant, Store


class Order(models.Model):
    """An order a store reported; what it earned is fixed when it is recorded."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="orders")
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.SET_NULL)
    external_id = models.CharField(max_length=128)
    placed_at = models.DateTimeField()
    currency = CurrencyField()
    total = models.DecimalField(max_digits=14, decimal_places=4)
    program_currency = CurrencyField()
    program_total = models.DecimalField(
        max_digits=14, decimal_places=4, help_text="The total in the program's currency."
    )
    exchange_rate = models.ForeignKey(
        ExchangeRate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rate_used = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    points_earned = models.BigIntegerField(default=0)
    points_reversed = models.BigIntegerField(default=0)
    refunded_total = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    explanation = models.JSONField(default=list)
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="order_unique_external_id"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_gte0"),
            models.CheckConstraint(
                condition=Q(refunded_total__gte=0) & Q(refunded_total__lte=models.F("total")),
                name="order_refunded_in_range",
            ),
            models.CheckConstraint(
                condition=Q(points_reversed__gte=0)
                & Q(points_reversed__lte=models.F("points_earned")),
                name="order_reversed_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-placed_at"], name="order_member_recent"),
            # The report aggregates: a merchant's orders placed on some local days.
            models.Index(fields=["merchant", "placed_at"], name="order_merchant_placed"),
            # Segment refreshes: the members who ordered since the last one.
            models.Index(fields=["merchant", "created_at"], name="order_merchant_recorded"),
        ]

    def __str__(self) -> str:
        return self.external_id


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=128, blank=True)
    category = models.CharField(max_length=128, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=14, decimal_places=4)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="line_price_gte0")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku or self.category}"


class Refund(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    external_id = models.CharField(max_length=128)
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    points_reversed = models.BigIntegerField(default=0)
    shortfall = models.BigIntegerField(default=0)
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="refund_unique_external_id"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt0"),
        ]
        # The report aggregates: a merchant's refunds of some local days.
        indexes = [models.Index(fields=["merchant", "created_at"], name="refund_merchant_time")]

    def __str__(self) -> str:
        return self.external_id


class NonMemberOrder(models.Model):
    """An order a platform reported for a shopper who is not a member (a guest checkout):
    it earns nothing, and counts in the merchant's reports beside the members' orders."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.SET_NULL)
    external_id = models.CharField(max_length=128)
    placed_at = models.DateTimeField()
    currency = CurrencyField()
    total = models.DecimalField(max_digits=14, decimal_places=4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="nonmember_order_unique_external_id"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="nonmember_order_total_gte0"),
        ]
        indexes = [
            models.Index(fields=["merchant", "placed_at"], name="nonmember_order_placed"),
        ]

    def __str__(self) -> str:
        return self.external_id


class ActivityKind(models.TextChoices):
    SIGN_UP = "sign_up", "Sign-up"
    BIRTHDAY = "birthday", "Birthday"
    REVIEW = "review", "Review"
    SOCIAL_FOLLOW = "social_follow", "Social follow"
    REFERRAL = "referral", "Referral"
    CUSTOM = "custom", "Custom"


class Activity(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="activities")
    external_id = models.CharField(max_length=128)
    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    custom_kind = models.CharField(max_length=60, blank=True)
    occurred_at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)
    points_earned = models.BigIntegerField(default=0)
    explanation = models.JSONField(default=list)
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            # Segments: a member's activities of some kinds in a window; refreshes: the
            # members who did something since the last one.
            models.Index(fields=["member", "occurred_at"], name="activity_member_time"),
            models.Index(fields=["merchant", "created_at"], name="activity_merchant_recorded"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="activity_unique_external_id"
            ),
            models.CheckConstraint(
                condition=~Q(kind=ActivityKind.CUSTOM) | ~Q(custom_kind=""),
                name="activity_custom_needs_name",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id
