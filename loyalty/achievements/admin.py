"""Admin for achievements: the list, the page (terms, window, conditions, reward and the
badge, uploaded and resized), the completions with when and why, and the member page's
inline of what a member completed."""

from babel.numbers import format_currency
from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from modeltranslation.admin import TranslationAdmin
from unfold.admin import ModelAdmin

from core.admin.forms import NameListField
from core.admin.readonly import NoWrites
from core.exceptions import DomainError
from loyalty.achievements.badges import badge_png
from loyalty.models import (
    Achievement,
    AchievementCompletion,
    AchievementWindow,
    Program,
    Segment,
)

OTHER_LANGUAGES = [code for code, _ in settings.LANGUAGES if code != "en"]


def goal_text(achievement: Achievement) -> str:
    goal = f"{achievement.goal.normalize():f}"
    if achievement.window == AchievementWindow.STREAK:
        return f"{goal} {achievement.streak_unit}s in a row"
    one = achievement.goal == 1
    if achievement.measure == "spend":
        currency = achievement.program.currency
        text = f"{format_currency(achievement.goal, currency, locale='en_US')} spent"
    elif achievement.measure == "points":
        text = f"{goal} points earned"
    else:
        what = {
            "order": "order" if one else "orders",
            "activity": f"“{achievement.activity_kind}” " + ("activity" if one else "activities"),
            "redemption": "redemption" if one else "redemptions",
            "referral": "qualified referral" if one else "qualified referrals",
        }[achievement.trigger]
        text = f"{goal} {what}"
    if achievement.window == AchievementWindow.ROLLING:
        return f"{text} in {achievement.window_days} days"
    return text


class AchievementForm(forms.ModelForm):
    skus = NameListField(
        required=False,
        label="Only orders with these SKUs",
        help_text="Comma separated, e.g. TENT-2P, STOVE-1; empty: any order.",
    )
    categories = NameListField(
        required=False,
        label="Only orders with these categories",
        help_text="Comma separated, e.g. camping, kitchen; empty: any order.",
    )
    badge_upload = forms.ImageField(
        required=False,
        label="Badge picture",
        help_text="PNG, JPEG, GIF or WebP up to 5 MB; fitted into 256 by 256 pixels.",
    )

    class Meta:
        model = Achievement
        fields = [
            "program",
            "name",
            "description",
            "is_active",
            "position",
            "trigger",
            "activity_kind",
            "measure",
            "goal",
            "window",
            "window_days",
            "streak_unit",
            "repeat",
            "min_order_total",
            "skus",
            "categories",
            "segment",
            "starts_at",
            "ends_at",
            "reward_points",
        ]

    def clean_badge_upload(self):
        upload = self.cleaned_data.get("badge_upload")
        if not upload:
            return None
        upload.seek(0)
        try:
            return badge_png(upload.read())
        except DomainError as error:
            raise ValidationError(str(error)) from error

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name.startswith("description") and isinstance(field.widget, forms.Textarea):
                field.widget.attrs.update({"rows": 3, "cols": 60})

    def clean(self):
        cleaned = super().clean()
        program: Program | None = cleaned.get("program")
        segment: Segment | None = cleaned.get("segment")
        if (
            program is not None
            and segment is not None
            and segment.merchant_id != program.merchant_id
        ):
            self.add_error("segment", "Choose one of this program's merchant's segments.")
        if program is not None:
            self.instance.merchant_id = program.merchant_id
        return cleaned


@admin.register(Achievement)
class AchievementAdmin(ModelAdmin, TranslationAdmin):
    form = AchievementForm
    list_display = [
        "name",
        "merchant_name",
        "goal_summary",
        "repeat",
        "reward_points",
        "badge_thumb",
        "is_active",
        "completed",
    ]
    list_filter = ["is_active", "trigger", "window", "repeat"]
    search_fields = ["name", "program__merchant__name", "program__merchant__slug"]
    list_select_related = ["program__merchant"]
    autocomplete_fields = ["program", "segment"]
    show_full_result_count = False
    readonly_fields = ["badge_preview", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["program", "name_en", "description_en", ("is_active", "position")]}),
        (
            "In the members' other languages (empty: the English text)",
            {
                "fields": [(f"name_{code}", f"description_{code}") for code in OTHER_LANGUAGES],
                "classes": ["collapse"],
            },
        ),
        ("Badge", {"fields": ["badge_preview", "badge_upload"]}),
        (
            "What counts",
            {
                "fields": [
                    ("trigger", "activity_kind"),
                    ("measure", "goal"),
                    ("window", "window_days", "streak_unit"),
                    "repeat",
                ]
            },
        ),
        (
            "Conditions",
            {
                "fields": [
                    "min_order_total",
                    "skus",
                    "categories",
                    "segment",
                    ("starts_at", "ends_at"),
                ]
            },
        ),
        ("On completion", {"fields": ["reward_points"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(completed_count=Count("completions"))

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # switched off instead: its completions keep pointing at it

    def save_model(self, request: HttpRequest, obj: Achievement, form, change: bool) -> None:
        badge = form.cleaned_data.get("badge_upload")
        if badge:
            obj.badge, obj.badge_version = badge
        obj.merchant_id = obj.program.merchant_id
        super().save_model(request, obj, form, change)

    @admin.display(description="Merchant", ordering="program__merchant__name")
    def merchant_name(self, obj: Achievement) -> str:
        return obj.program.merchant.name

    @admin.display(description="Goal")
    def goal_summary(self, obj: Achievement) -> str:
        return goal_text(obj)

    @admin.display(description="Completed", ordering="completed_count")
    def completed(self, obj: Achievement) -> str:
        count = getattr(obj, "completed_count", 0)
        url = reverse("admin:loyalty_achievementcompletion_changelist")
        return format_html(
            '<a href="{}?achievement__id__exact={}">{}</a>', url, obj.pk, f"{count:,}"
        )

    @admin.display(description="Badge")
    def badge_thumb(self, obj: Achievement) -> str:
        if not obj.badge_version:
            return "—"
        url = reverse("achievement-badge", args=[obj.pk, obj.badge_version])
        return format_html('<img src="{}" alt="" width="32" height="32">', url)

    @admin.display(description="Badge now")
    def badge_preview(self, obj: Achievement) -> str:
        if not obj or not obj.badge_version:
            return "No badge yet."
        url = reverse("achievement-badge", args=[obj.pk, obj.badge_version])
        return format_html('<img src="{}" alt="The badge" width="96" height="96">', url)


@admin.register(AchievementCompletion)
class AchievementCompletionAdmin(NoWrites, ModelAdmin):
    list_display = [
        "completed_at",
        "achievement",
        "member_link",
        "merchant",
        "period",
        "points",
        "reason",
    ]
    list_filter = ["achievement"]
    search_fields = ["member__external_id", "member__email", "achievement__name"]
    list_select_related = ["achievement", "member", "merchant"]
    date_hierarchy = "completed_at"
    show_full_result_count = False

    @admin.display(description="Member", ordering="member__external_id")
    def member_link(self, obj: AchievementCompletion) -> str:
        url = reverse("admin:loyalty_member_change", args=[obj.member_id])
        return format_html('<a href="{}">{}</a>', url, obj.member.external_id)
