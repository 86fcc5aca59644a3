"""What care runs on: SLA policies and business calendars (with holidays), canned
replies, agent profiles, each merchant's care settings, and the help pages (FAQ and
program terms, one text per language like the catalog's)."""

from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from modeltranslation.admin import TranslationAdmin
from unfold.admin import ModelAdmin, TabularInline

from core.site_time import site_today
from customercare.canned import PLACEHOLDERS
from customercare.models import (
    UNRESOLVED_STATUSES,
    AgentProfile,
    BusinessCalendar,
    CannedReply,
    CareSettings,
    FAQEntry,
    Holiday,
    ProgramTerms,
    SLAPolicy,
)

# -- SLA -------------------------------------------------------------------------------------


class HolidayInline(TabularInline):
    model = Holiday
    extra = 1
    fields = ["date", "name"]


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(ModelAdmin):
    list_display = ["name", "timezone", "weekdays", "opens_at", "closes_at"]
    search_fields = ["name"]
    inlines = [HolidayInline]
    show_full_result_count = False


@admin.register(SLAPolicy)
class SLAPolicyAdmin(ModelAdmin):
    list_display = [
        "__str__",
        "merchant",
        "priority",
        "first_response_minutes",
        "resolution_minutes",
        "calendar",
        "at_risk_percent",
    ]
    list_filter = ["priority", "calendar"]
    list_select_related = ["merchant", "calendar"]
    search_fields = ["merchant__name", "merchant__slug"]
    autocomplete_fields = ["merchant"]
    show_full_result_count = False
    fields = [
        "merchant",
        "priority",
        ("first_response_minutes", "resolution_minutes"),
        "calendar",
        "at_risk_percent",
    ]


# -- agents and merchants' terms ---------------------------------------------------------------


@admin.register(AgentProfile)
class AgentProfileAdmin(ModelAdmin):
    list_display = [
        "user",
        "is_available",
        "open_tickets",
        "max_open_tickets",
        "is_team_lead",
        "last_assigned_at",
    ]
    list_filter = ["is_available", "is_team_lead"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]
    readonly_fields = ["last_assigned_at"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                open_count=Count(
                    "user__care_tickets",
                    filter=Q(user__care_tickets__status__in=UNRESOLVED_STATUSES),
                )
            )
        )

    @admin.display(description="Open tickets", ordering="open_count")
    def open_tickets(self, profile: AgentProfile) -> int:
        return getattr(profile, "open_count", 0)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*self.readonly_fields, "user"] if obj is not None else self.readonly_fields


@admin.register(CareSettings)
class CareSettingsAdmin(ModelAdmin):
    list_display = [
        "merchant",
        "goodwill_approval_threshold",
        "goodwill_max_per_30_days",
        "reopen_window_days",
        "missing_points_claim_days",
    ]
    list_select_related = ["merchant"]
    search_fields = ["merchant__name", "merchant__slug"]
    autocomplete_fields = ["merchant"]
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["merchant"] if obj is not None else []


# -- texts -----------------------------------------------------------------------------------


@admin.register(CannedReply)
class CannedReplyAdmin(ModelAdmin, TranslationAdmin):
    list_display = ["title", "merchant", "is_active", "updated_at"]
    list_filter = ["is_active", ("merchant", admin.EmptyFieldListFilter)]
    list_select_related = ["merchant"]
    search_fields = ["title", "merchant__name", "merchant__slug"]
    autocomplete_fields = ["merchant"]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["merchant", "title", "is_active"]}),
        (
            "Text (one per language; English is the fallback)",
            {
                "fields": ["body"],
                "description": "Placeholders filled on the ticket: "
                + ", ".join("{" + name + "}" for name in PLACEHOLDERS)
                + ". Others are left as written.",
            },
        ),
    ]


@admin.register(FAQEntry)
class FAQEntryAdmin(ModelAdmin, TranslationAdmin):
    list_display = ["question", "merchant", "position", "is_published", "updated_at"]
    list_filter = ["is_published"]
    list_select_related = ["merchant"]
    search_fields = ["question", "merchant__name", "merchant__slug"]
    autocomplete_fields = ["merchant"]
    ordering = ["merchant__name", "position", "id"]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["merchant", "position", "is_published"]}),
        ("Texts (one per language; English is the fallback)", {"fields": ["question", "answer"]}),
    ]


@admin.register(ProgramTerms)
class ProgramTermsAdmin(ModelAdmin, TranslationAdmin):
    """A version in force (published, its date come) is never edited: publish a new
    version instead."""

    list_display = ["merchant", "version", "effective_on", "is_published", "in_force"]
    list_filter = ["is_published"]
    list_select_related = ["merchant"]
    search_fields = ["merchant__name", "merchant__slug"]
    autocomplete_fields = ["merchant"]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["merchant", "version", "effective_on", "is_published"]}),
        ("Text (one per language; English is the fallback)", {"fields": ["body"]}),
    ]

    @admin.display(description="In force since its date", boolean=True)
    def in_force(self, terms: ProgramTerms) -> bool:
        return terms.is_published and terms.effective_on <= site_today()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is not None and self.in_force(obj):
            return [
                field.name
                for field in obj._meta.fields
                if field.name not in ("id",) and field.editable
            ]
        return []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and self.in_force(obj):
            return False
        return super().has_delete_permission(request, obj)
