"""Brands, categories, rewards and their supplier offers."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.db.models import QuerySet
from django.http import HttpRequest
from django_countries import countries as all_countries
from modeltranslation.admin import TranslationAdmin
from unfold.admin import ModelAdmin, TabularInline

from catalog import denominations, services
from catalog.admin.base import COUNTRY_CODE, in_country
from catalog.models import (
    RECIPIENT_FIELDS,
    Brand,
    Category,
    Reward,
    RewardStatus,
    SupplierOffer,
)
from catalog.resources import (
    LIST_SEPARATOR,
    BrandResource,
    CategoryResource,
    RewardResource,
    SupplierOfferResource,
)
from core import formatting
from core.actors import Actor
from core.admin.display import link_column, money_column, yes_no_column
from core.admin.errors import ServiceErrorsAdmin, form_error
from core.admin.importexport import StaffImportExportAdmin
from core.admin.readonly import ReadOnlyHistoryAdmin
from core.exceptions import DomainError

# -- brands, categories ----------------------------------------------------------------------


@admin.register(Category)
class CategoryAdmin(StaffImportExportAdmin, TranslationAdmin):
    resource_classes = [CategoryResource]
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    show_full_result_count = False


@admin.register(Brand)
class BrandAdmin(StaffImportExportAdmin, TranslationAdmin):
    resource_classes = [BrandResource]
    list_display = ["name", "slug", "updated_at"]
    list_filter = ["categories"]
    search_fields = ["name", "slug"]
    filter_horizontal = ["categories"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["name", "slug", "categories", "logo", "card_image"]}),
        (
            "Texts (one per language; English is the fallback)",
            {"fields": ["description", "terms", "disclaimer", "redemption_instructions"]},
        ),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]


# -- rewards ---------------------------------------------------------------------------------


class CountryFilter(admin.SimpleListFilter):
    """The countries rewards are offered in (``countries`` holds several: ``DE,FR``)."""

    title = "country"
    parameter_name = "country"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin) -> list[tuple]:
        stored = (
            model_admin.get_queryset(request)
            .order_by()
            .values_list("countries", flat=True)
            .distinct()
        )
        codes = {getattr(c, "code", c) for value in stored for c in _country_codes(value)}
        return sorted(((code, all_countries.name(code) or code) for code in codes), key=_by_name)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        code = (self.value() or "").upper()
        if not code:
            return queryset
        if not COUNTRY_CODE.match(code):
            return queryset.none()
        return queryset.filter(in_country(code))


def _country_codes(value: Any) -> list[str]:
    if isinstance(value, str):
        return [code for code in value.split(",") if code]
    return [getattr(country, "code", str(country)) for country in value or ()]


def _by_name(choice: tuple[str, str]) -> str:
    return str(choice[1])


class DenominationsField(forms.CharField):
    """The fixed values, typed ``10|25|50``."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return LIST_SEPARATOR.join(str(part) for part in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value)
        return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]


class RewardForm(forms.ModelForm):
    denominations = DenominationsField(
        required=False,
        help_text="Fixed values separated by |, e.g. 10|25|50 (fixed kind only).",
    )
    recipient_fields = forms.MultipleChoiceField(
        choices=[(name, name.replace("_", " ")) for name in RECIPIENT_FIELDS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="What delivery needs from the member.",
    )

    class Meta:
        model = Reward
        fields = [
            "brand",
            "type",
            "slug",
            "name",
            "status",
            "countries",
            "face_currency",
            "denomination_kind",
            "denominations",
            "min_value",
            "max_value",
            "step",
            "recipient_fields",
            "delivered_expiry_months",
            "image",
            "description",
            "terms",
        ]
        widgets = {"countries": FilteredSelectMultiple("countries", is_stacked=False)}

    def _post_clean(self) -> None:
        super()._post_clean()
        try:
            services.reward_validate(reward=self.instance)
        except DomainError as error:
            form_error(self, error)


class SupplierOfferInline(TabularInline):
    model = SupplierOffer
    extra = 0
    autocomplete_fields = ["supplier"]
    fields = [
        "supplier",
        "supplier_sku",
        "country",
        "cost_currency",
        "discount_percent",
        "fee",
        "stock",
        "preference",
        "is_active",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("supplier")


def _status_action(status: str, label: str):
    def action(modeladmin: "RewardAdmin", request: HttpRequest, queryset: QuerySet) -> None:
        changed = services.rewards_set_status(
            rewards=list(queryset), status=status, actor=Actor.staff(request.user)
        )
        modeladmin.message_user(
            request,
            f"{changed} reward(s) now {RewardStatus(status).label.lower()}.",
            messages.SUCCESS,
        )

    action.__name__ = f"set_{status}"
    action.short_description = label
    action.allowed_permissions = ("change",)
    return action


@admin.register(Reward)
class RewardAdmin(
    ServiceErrorsAdmin, StaffImportExportAdmin, ReadOnlyHistoryAdmin, TranslationAdmin
):
    resource_classes = [RewardResource]
    form = RewardForm
    list_display = [
        "name",
        "slug",
        "brand",
        "type",
        "status",
        "country_list",
        "face_values",
        "updated_at",
    ]
    list_filter = [CountryFilter, "type", "status", "offers__supplier", "brand"]
    search_fields = ["name", "slug", "brand__name", "brand__slug"]
    list_select_related = ["brand"]
    show_full_result_count = False
    list_per_page = 50
    autocomplete_fields = ["brand"]
    inlines = [SupplierOfferInline]
    history_list_display = ["status", "countries", "denominations"]
    actions = [
        _status_action(RewardStatus.PAUSED, "Pause the selected rewards"),
        _status_action(RewardStatus.ACTIVE, "Activate the selected rewards"),
        _status_action(RewardStatus.RETIRED, "Retire the selected rewards"),
    ]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["brand", "type", "slug", "name", "status"]}),
        ("Where", {"fields": ["countries"]}),
        (
            "Face value",
            {
                "fields": [
                    "face_currency",
                    "denomination_kind",
                    "denominations",
                    ("min_value", "max_value", "step"),
                ]
            },
        ),
        (
            "Delivery",
            {"fields": ["recipient_fields", "delivered_expiry_months", "image"]},
        ),
        ("Texts", {"fields": ["description", "terms"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Reward | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("status")  # changed by the pause / activate / retire actions
        return fields

    def has_delete_permission(self, request: HttpRequest, obj: Reward | None = None) -> bool:
        # Past redemptions keep what they bought: a reward is retired, never deleted.
        return False

    @admin.display(description="Countries")
    def country_list(self, reward: Reward) -> str:
        return ", ".join(country.code for country in reward.countries)

    @admin.display(description="Face values")
    def face_values(self, reward: Reward) -> str:
        return denominations.describe(denominations.of_reward(reward))

    def save_model(self, request: HttpRequest, obj: Reward, form: Any, change: bool) -> None:
        services.reward_save(reward=obj, actor=Actor.staff(request.user))


@admin.register(SupplierOffer)
class SupplierOfferAdmin(StaffImportExportAdmin, ReadOnlyHistoryAdmin):
    resource_classes = [SupplierOfferResource]
    list_display = [
        "reward_link",
        "supplier_link",
        "supplier_sku",
        "country",
        "discount",
        "fee_shown",
        "stock",
        "preference",
        "active",
    ]
    list_filter = ["supplier", "country", "is_active"]
    reward_link = link_column("reward", description="Reward")
    supplier_link = link_column("supplier", description="Supplier")
    fee_shown = money_column("fee", currency="cost_currency", description="Fee")
    active = yes_no_column(
        "is_active", description="Active", yes="Active", no="Inactive", no_tone="warning"
    )

    @admin.display(description="Discount", ordering="discount_percent")
    def discount(self, offer: SupplierOffer) -> str:
        return formatting.percent(offer.discount_percent / 100)

    search_fields = ["supplier_sku", "reward__slug", "reward__name", "supplier__slug"]
    list_select_related = ["reward", "supplier"]
    autocomplete_fields = ["reward", "supplier"]
    readonly_fields = ["last_synced_at", "created_at", "updated_at"]
    show_full_result_count = False
