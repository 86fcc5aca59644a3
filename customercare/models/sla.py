"""SLA policies and the business calendars they count in."""

import datetime
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from customercare.models.tickets import TicketPriority
from merchants.models import Merchant


def _validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone.")


def _validate_weekdays(value: str) -> None:
    if not value or any(day not in "1234567" for day in value) or len(set(value)) != len(value):
        raise ValidationError("Days of the week as digits, Monday 1 to Sunday 7, e.g. 12345.")


class BusinessCalendar(models.Model):
    """Opening hours (one span a day, the same on every working day) in a time zone,
    with holidays."""

    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[_validate_timezone])
    weekdays = models.CharField(
        max_length=7,
        default="12345",
        validators=[_validate_weekdays],
        help_text="Working days, Monday 1 to Sunday 7.",
    )
    opens_at = models.TimeField(default="09:00")
    closes_at = models.TimeField(default="17:00")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="calendar_opens_before_close"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class SLAPolicy(models.Model):
    """First-response and resolution targets for one priority, for a merchant or (with no
    merchant) the provider's default. With a calendar they count business minutes; without
    one, calendar minutes."""

    merchant = models.ForeignKey(
        Merchant,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_policies",
        help_text="Empty: the provider's default.",
    )
    priority = models.CharField(max_length=8, choices=TicketPriority.choices)
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()
    calendar = models.ForeignKey(
        BusinessCalendar,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: around the clock.",
    )
    at_risk_percent = models.PositiveSmallIntegerField(
        default=75, help_text="Flag the ticket at risk once this share of a target is used."
    )

    class Meta:
        ordering = ["merchant_id", "priority"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "priority"],
                condition=Q(merchant__isnull=False),
                name="sla_one_per_merchant_priority",
            ),
            models.UniqueConstraint(
                fields=["priority"],
                condition=Q(merchant__isnull=True),
                name="sla_one_default_per_priority",
            ),
            models.CheckConstraint(
                condition=Q(first_response_minutes__gt=0)
                & Q(resolution_minutes__gte=models.F("first_response_minutes")),
                name="sla_targets_positive",
            ),
            models.CheckConstraint(
                condition=Q(at_risk_percent__gte=1, at_risk_percent__lte=99),
                name="sla_at_risk_percent_range",
            ),
        ]

    def __str__(self) -> str:
        who = self.merchant or "Default"
        return f"{who}: {self.get_priority_display()}"

    def clean(self) -> None:
        """A target must be reachable in the calendar's opening hours within a year."""
        if self.calendar_id is None or self.resolution_minutes is None:
            return
        calendar = BusinessCalendar.objects.get(pk=self.calendar_id)  # its hours as times
        day = datetime.datetime.combine(datetime.date(2000, 1, 1), calendar.closes_at) - (
            datetime.datetime.combine(datetime.date(2000, 1, 1), calendar.opens_at)
        )
        yearly = len(calendar.weekdays) * 52 * int(day.total_seconds() // 60)
        if self.resolution_minutes > yearly:
            raise ValidationError(
                {"resolution_minutes": f"More than a year of {calendar}'s opening hours."}
            )
