from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django_countries.fields import CountryField

from loyalty.attributes import NAME_PATTERN
from loyalty.models.program import Tier
from merchants.models import Merchant, acting_api_key_field


class MemberStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    BLOCKED = "blocked", "Blocked"
    ANONYMISED = "anonymised", "Anonymised"


class Member(models.Model):
    """A store's customer in the program, addressed by the store's own ``external_id``.

    ``points_balance`` (spendable), ``pending_points`` and ``lifetime_points`` cache the sums
    of the member's ledger entries; only ``loyalty.ledger`` writes them, under the member's
    row lock and in the same transaction as the entry. The database refuses a negative
    balance whatever the Python code does."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="members")
    external_id = models.CharField(max_length=128)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    first_name = models.CharField(max_length=120, blank=True)
    last_name = models.CharField(max_length=120, blank=True)
    country = CountryField(blank=True)
    locale = models.CharField(max_length=20, blank=True)
    birthday = models.DateField(null=True, blank=True)
    marketing_consent = models.BooleanField(default=False)
    attributes = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=MemberStatus.choices, default="active")
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    points_balance = models.BigIntegerField(default=0, editable=False)
    pending_points = models.BigIntegerField(default=0, editable=False)
    lifetime_points = models.BigIntegerField(default=0, editable=False)
    has_refund_shortfall = models.BooleanField(
        default=False,
        editable=False,
        help_text="A refund took back more points than the member still had.",
    )
    last_activity_at = models.DateTimeField(null=True, blank=True, editable=False)
    anonymised_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant_id", "external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="member_unique_external_id"
            ),
            models.CheckConstraint(condition=Q(points_balance__gte=0), name="member_balance_gte0"),
            models.CheckConstraint(condition=Q(pending_points__gte=0), name="member_pending_gte0"),
            models.CheckConstraint(
                condition=Q(lifetime_points__gte=F("points_balance")),
                name="member_lifetime_covers_balance",
            ),
            models.CheckConstraint(
                condition=Q(status__in=MemberStatus.values), name="member_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "email"], name="member_email"),
            models.Index(fields=["merchant", "last_activity_at"], name="member_activity"),
            # The report aggregates: who joined a merchant on some local days.
            models.Index(fields=["merchant", "created_at"], name="member_joined"),
            # Segment refreshes: the members whose profile changed since the last one.
            models.Index(fields=["merchant", "updated_at"], name="member_changed"),
        ]
        # Beyond editing a profile (change_member): what staff may do to members in the
        # admin, each given on its own (see the staff groups in the README).
        permissions = [
            ("adjust_points", "Can credit or debit members' points in the admin"),
            ("anonymise_member", "Can erase members' personal data"),
            ("export_member", "Can export members' personal data"),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class TierChange(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=200)
    qualifying_value = models.DecimalField(max_digits=16, decimal_places=2)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = acting_api_key_field()
    actor_label = models.CharField(
        max_length=150, blank=True, help_text="Who acted (a job by name), kept if the user goes."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The report aggregates: the tier changes of some local days.
        indexes = [models.Index(fields=["created_at"], name="tier_change_time")]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_tier_id} -> {self.to_tier_id}"


class AttributeType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    BOOLEAN = "boolean", "Yes or no"
    CHOICE = "choice", "One of a list"


class MemberAttribute(models.Model):
    """One CRM attribute of a merchant's members (``loyalty.attributes``): what a store may
    send in a member's ``attributes``, of which type, and whether it is personal data."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="member_attributes"
    )
    name = models.CharField(
        max_length=40,
        validators=[RegexValidator(NAME_PATTERN, "Lower-case letters, digits and _.")],
        help_text="The key stores send, e.g. favourite_store.",
    )
    label = models.CharField(max_length=80)
    type = models.CharField(max_length=10, choices=AttributeType.choices)
    choices = models.JSONField(
        default=list, blank=True, help_text="For “one of a list”: the allowed values."
    )
    is_personal = models.BooleanField(
        default=False, help_text="Personal data: cleared when the member's data is erased."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["merchant_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="member_attribute_unique"),
            models.CheckConstraint(
                condition=Q(type__in=AttributeType.values), name="member_attribute_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.name})"

    def clean(self) -> None:
        choices = self.choices if isinstance(self.choices, list) else None
        if self.type == AttributeType.CHOICE:
            if (
                not choices
                or not all(isinstance(c, str) and c.strip() for c in choices)
                or len(set(choices)) != len(choices)
            ):
                raise ValidationError(
                    {"choices": "Give the allowed values: a list of different texts."}
                )
        elif choices:
            raise ValidationError({"choices": "Only “one of a list” has choices."})
