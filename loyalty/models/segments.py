"""Segments (``loyalty.segments``), who is in them and since when, and the members' RFM
scores that segments filter on."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from loyalty.models.member import Member
from merchants.models import Merchant


class Segment(models.Model):
    """A named group of a merchant's members, defined by conditions (``definition``,
    checked by ``loyalty.segments.definition``) and refreshed by a job that records who
    joined and left. Only ``loyalty.segments.services`` writes it."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    definition = models.JSONField(default=dict)
    is_active = models.BooleanField(
        default=True, help_text="Only active segments are refreshed and can be targeted."
    )
    is_time_relative = models.BooleanField(
        "moves with the calendar",
        default=False,
        editable=False,
        help_text="Who matches can change with the calendar alone (a last-N-days window).",
    )
    member_count = models.PositiveIntegerField(default=0, editable=False)
    refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    fully_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    refresh_took_ms = models.PositiveIntegerField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="segment_unique_name"),
        ]
        permissions = [
            ("refresh_segment", "Can refresh segments now"),
            ("export_segment", "Can export a segment's members"),
        ]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """One stay of a member in a segment: from ``joined_at`` until ``left_at`` (null while
    they are in). A member who leaves and comes back has a second row: the history stays."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="segment_stays")
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-joined_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "member"],
                condition=Q(left_at__isnull=True),
                name="segment_membership_one_open",
            ),
            models.CheckConstraint(
                condition=Q(left_at__isnull=True) | Q(left_at__gte=models.F("joined_at")),
                name="segment_membership_left_after_joined",
            ),
        ]
        indexes = [
            models.Index(
                fields=["segment", "member"],
                condition=Q(left_at__isnull=True),
                name="segment_membership_current",
            ),
            models.Index(fields=["member", "segment"], name="segment_membership_member"),
            models.Index(fields=["segment", "joined_at"], name="segment_membership_joined"),
            models.Index(fields=["segment", "left_at"], name="segment_membership_left"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} in {self.segment_id}"


class MemberScore(models.Model):
    """A member's RFM scores within their merchant: recency, frequency and monetary
    quintiles, 5 the best, from the orders of the last 365 days; recomputed nightly. A
    member with no order in that year has no row."""

    member = models.OneToOneField(
        Member, primary_key=True, on_delete=models.CASCADE, related_name="score"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    recency = models.PositiveSmallIntegerField()
    frequency = models.PositiveSmallIntegerField()
    monetary = models.PositiveSmallIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(recency__range=(1, 5))
                & Q(frequency__range=(1, 5))
                & Q(monetary__range=(1, 5)),
                name="member_score_quintiles",
            ),
        ]
        indexes = [models.Index(fields=["merchant"], name="member_score_merchant")]

    def __str__(self) -> str:
        return f"{self.recency}{self.frequency}{self.monetary}"
