"""Programs: their earning rules and tiers, and the earning simulator."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import path
from unfold.admin import ModelAdmin, StackedInline, TabularInline

from core import formatting
from core.actors import Actor
from core.admin.display import (
    link_column,
    state_column,
    yes_no_column,
)
from loyalty.models import (
    EarningRule,
    Program,
    Segment,
    Tier,
)
from loyalty.services import programs
from loyalty.simulator_admin import simulate_view


class TierInline(TabularInline):
    model = Tier
    extra = 0
    fields = ["name", "threshold", "multiplier", "benefits"]


class EarningRuleInline(StackedInline):
    model = EarningRule
    extra = 0
    autocomplete_fields = ["store"]

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "segment":
            # Only the program's merchant's segments (none until the program is saved).
            object_id = request.resolver_match.kwargs.get("object_id")
            program = Program.objects.filter(pk=object_id).first() if object_id else None
            kwargs["queryset"] = Segment.objects.filter(
                merchant_id=program.merchant_id if program else None
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("name", "kind", "priority", "is_active"),
                    ("valid_from", "valid_until"),
                    "segment",
                ]
            },
        ),
        (
            "What it gives",
            {"fields": [("points_per_unit", "multiplier", "bonus_points", "activity_kind")]},
        ),
        (
            "When it applies",
            {
                "fields": [
                    ("min_order_total", "store"),
                    ("include_skus", "exclude_skus"),
                    ("include_categories", "exclude_categories"),
                    ("cap_period", "cap_count"),
                ]
            },
        ),
    ]


@admin.register(Program)
class ProgramAdmin(ModelAdmin):
    list_display = [
        "name",
        "merchant_link",
        "points_name",
        "point_worth",
        "earn_rate",
        "pending_period",
        "expiry",
        "tiers",
        "active",
    ]
    merchant_link = link_column("merchant", description="Merchant")
    expiry = state_column(
        "expiry_policy",
        tones={},
        words={
            "never": "Never expire",
            "lot_age": "By age",
            "inactivity": "On inactivity",
        },
        description="Expiry",
    )
    tiers = yes_no_column("tiers_enabled", description="Tiers", yes="Tiers", no="No tiers")
    active = yes_no_column(
        "is_active", description="Active", yes="Active", no="Inactive", yes_tone="success"
    )

    @admin.display(description="Point value", ordering="point_value")
    def point_worth(self, program: Program) -> str:
        return formatting.unit_money(program.point_value, program.currency)

    @admin.display(description="Earn rate", ordering="base_earn_rate")
    def earn_rate(self, program: Program) -> str:
        rate = program.base_earn_rate.normalize()
        places = max(-rate.as_tuple().exponent, 0)
        return (
            f"{formatting.number(rate, places=places)} {program.points_name} "
            f"per 1 {program.currency}"
        )

    @admin.display(description="Pending", ordering="pending_days")
    def pending_period(self, program: Program) -> str:
        days = program.pending_days
        return "None" if not days else f"{days} day{'s' if days != 1 else ''}"

    list_filter = ["is_active", "expiry_policy", "tiers_enabled"]
    search_fields = ["name", "merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant"]
    show_full_result_count = False
    inlines = [TierInline, EarningRuleInline]
    fieldsets = [
        (None, {"fields": ["merchant", "name", "points_name", "is_active"]}),
        ("Earning", {"fields": ["currency", "point_value", "base_earn_rate", "rounding"]}),
        ("Pending and expiry", {"fields": ["pending_days", "expiry_policy", "expiry_months"]}),
        ("Tiers", {"fields": ["tiers_enabled", "tier_basis", "tier_window_months"]}),
    ]

    change_form_template = "admin/loyalty/program/change_form.html"

    def save_model(self, request: HttpRequest, obj: Program, form, change: bool) -> None:
        programs.program_save(program=obj, actor=Actor.staff(request.user))

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/simulate/",
                self.admin_site.admin_view(self.simulate),
                name="loyalty_program_simulate",
            ),
            *super().get_urls(),
        ]

    def simulate(self, request: HttpRequest, pk: int):
        program = get_object_or_404(Program.objects.select_related("merchant"), pk=pk)
        if not self.has_view_or_change_permission(request, program):
            raise PermissionDenied
        return simulate_view(self, request, program)
