"""Admin for the Catalog team: brands, categories, suppliers, rewards with their offers,
code pools, alerts, and each merchant's catalog with its point prices.

Every write goes through ``catalog.services`` (``reward_save``, ``rewards_set_status``,
``catalog_item_save``, ``catalog_items_add``): the forms check their input with the
services' own validators, so a refused value is a form error, never a 500. Rewards are
never deleted (retire them); codes of a pool are never shown."""

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django_countries import countries as all_countries
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats
from modeltranslation.admin import TranslationAdmin
from simple_history.admin import SimpleHistoryAdmin

from catalog import denominations, services
from catalog.alerts import alert_clear
from catalog.models import (
    RECIPIENT_FIELDS,
    Brand,
    CatalogAlert,
    Category,
    CodePool,
    MerchantCatalogItem,
    PriceRounding,
    Reward,
    RewardStatus,
    RewardType,
    Supplier,
    SupplierOffer,
    VoucherCode,
)
from catalog.resources import (
    LIST_SEPARATOR,
    BrandResource,
    CategoryResource,
    RewardResource,
    SupplierOfferResource,
)
from loyalty.models import Tier
from merchants.exceptions import DomainError
from merchants.models import Merchant

COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


def in_country(code: str) -> Q:
    """Rewards redeemable in ``code``: ``countries`` is stored as ``DE,FR``."""
    if not COUNTRY_CODE.match(code):
        raise ValueError(f"Not a country code: {code!r}")
    return Q(countries__regex=rf"(^|,){code}(,|$)")


def _form_error(form: forms.BaseForm, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.detail)


class ServiceErrorsAdmin(admin.ModelAdmin):
    """A domain error the form could not foresee (a race, a missing program) becomes a
    message on the form page; the transaction around the save is rolled back."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            self.message_user(request, error.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class CatalogImportExportAdmin(ImportExportModelAdmin):
    """Import needs the right to add and change; export the right to view."""

    formats = [base_formats.CSV, base_formats.XLSX, base_formats.JSON]

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin):
    """The history is for reading: changes go through the services, not a revert."""

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


# -- brands, categories, suppliers -----------------------------------------------------------


@admin.register(Category)
class CategoryAdmin(CatalogImportExportAdmin, TranslationAdmin):
    resource_classes = [CategoryResource]
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    show_full_result_count = False


@admin.register(Brand)
class BrandAdmin(CatalogImportExportAdmin, TranslationAdmin):
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


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "kind",
        "adapter",
        "invoice_currency",
        "rate_limit_per_minute",
        "is_active",
    ]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    show_full_result_count = False


# -- rewards ---------------------------------------------------------------------------------


class CountryFilter(admin.SimpleListFilter):
    """The countries rewards are offered in (``countries`` holds several: ``DE,FR``)."""

    title = "country"
    parameter_name = "country"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
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
            services.reward_validate(self.instance)
        except DomainError as error:
            _form_error(self, error)


class SupplierOfferInline(admin.TabularInline):
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
            rewards=list(queryset), status=status, actor=request.user
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
    ServiceErrorsAdmin, CatalogImportExportAdmin, ReadOnlyHistoryAdmin, TranslationAdmin
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
        services.reward_save(reward=obj, actor=request.user)


@admin.register(SupplierOffer)
class SupplierOfferAdmin(CatalogImportExportAdmin, ReadOnlyHistoryAdmin):
    resource_classes = [SupplierOfferResource]
    list_display = [
        "reward",
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
    list_filter = ["supplier", "country", "is_active"]
    search_fields = ["supplier_sku", "reward__slug", "reward__name", "supplier__slug"]
    list_select_related = ["reward", "supplier"]
    autocomplete_fields = ["reward", "supplier"]
    readonly_fields = ["last_synced_at", "created_at", "updated_at"]
    show_full_result_count = False


# -- code pools --------------------------------------------------------------------------


@admin.register(CodePool)
class CodePoolAdmin(admin.ModelAdmin):
    """Counts only: the codes themselves are never shown here."""

    list_display = ["__str__", "face_value", "unused_codes", "used_codes", "low_stock_threshold"]
    list_select_related = ["offer__supplier", "offer__reward"]
    search_fields = ["offer__supplier_sku", "offer__reward__slug", "offer__supplier__slug"]
    autocomplete_fields = ["offer"]
    fields = ["offer", "face_value", "low_stock_threshold", "unused_codes", "used_codes"]
    readonly_fields = ["unused_codes", "used_codes", "created_at"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                unused_count=Count("codes", filter=Q(codes__used_at__isnull=True)),
                used_count=Count("codes", filter=Q(codes__used_at__isnull=False)),
            )
        )

    @admin.display(description="Unused codes", ordering="unused_count")
    def unused_codes(self, pool: CodePool) -> int:
        return getattr(pool, "unused_count", 0)

    @admin.display(description="Used codes", ordering="used_count")
    def used_codes(self, pool: CodePool) -> int:
        return getattr(pool, "used_count", 0)


@admin.register(VoucherCode)
class VoucherCodeAdmin(admin.ModelAdmin):
    """Which codes were delivered, when and for what; never the code or its PIN."""

    list_display = ["id", "pool", "expires_on", "uploaded_at", "used_at", "used_for"]
    list_filter = [("used_at", admin.EmptyFieldListFilter)]
    search_fields = ["used_for"]
    list_select_related = ["pool__offer__supplier"]
    fields = ["pool", "expires_on", "uploaded_at", "used_at", "used_for"]
    readonly_fields = fields
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# -- alerts ----------------------------------------------------------------------------------


class OpenFilter(admin.SimpleListFilter):
    title = "open"
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("yes", "Open"), ("no", "Resolved")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(CatalogAlert)
class CatalogAlertAdmin(admin.ModelAdmin):
    list_display = [
        "kind",
        "subject",
        "message",
        "raised_at",
        "last_seen_at",
        "resolved_at",
        "resolved_by",
    ]
    list_filter = [OpenFilter, "kind"]
    search_fields = ["subject", "message"]
    list_select_related = ["resolved_by"]
    fields = list_display
    readonly_fields = list_display
    show_full_result_count = False
    actions = ["mark_resolved"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Mark resolved", permissions=["change"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet) -> None:
        resolved = sum(
            alert_clear(kind=alert.kind, subject=alert.subject, actor=request.user)
            for alert in queryset.filter(resolved_at__isnull=True)
        )
        self.message_user(request, f"{resolved} alert(s) resolved.", messages.SUCCESS)


# -- merchants' catalogs ---------------------------------------------------------------------


class CatalogItemForm(forms.ModelForm):
    class Meta:
        model = MerchantCatalogItem
        fields = [
            "merchant",
            "reward",
            "is_enabled",
            "margin_percent",
            "price_step",
            "price_rounding",
            "fixed_prices",
            "fixed_points_per_unit",
            "allowed_tiers",
            "limit_per_month",
            "limit_ever",
        ]

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.instance.reward_id is None:
            return
        try:
            services.item_validate(self.instance)
        except DomainError as error:
            _form_error(self, error)


def price_lines(item: MerchantCatalogItem) -> str:
    if item.pricing_error:
        return format_html("<strong>Not priced:</strong> {}", item.pricing_error)
    if not item.prices:
        return "-"
    currency = item.reward.face_currency
    return format_html_join(
        ", ",
        "{}&nbsp;{}&nbsp;→&nbsp;{}&nbsp;points",
        ((value, currency, f"{points:,}") for value, points in item.prices.items()),
    )


class AddRewardsForm(forms.Form):
    """What to look for, and the pricing terms of the items added."""

    merchant = forms.ModelChoiceField(queryset=Merchant.objects.order_by("name"))
    country = forms.ChoiceField(choices=[("", "---------"), *all_countries])
    type = forms.ChoiceField(choices=[("", "---------"), *RewardType.choices])
    margin_percent = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(1000),
        max_digits=6,
        decimal_places=2,
        help_text="Added to the price, in %; empty: 0.",
    )
    price_step = forms.IntegerField(
        required=False, min_value=1, help_text="Round prices to this many points; empty: 10."
    )
    price_rounding = forms.ChoiceField(
        choices=[("", "---------"), *PriceRounding.choices], required=False
    )

    def terms(self) -> dict[str, Any]:
        names = ("margin_percent", "price_step", "price_rounding")
        return {
            name: self.cleaned_data[name]
            for name in names
            if self.cleaned_data.get(name) not in (None, "")
        }


@admin.register(MerchantCatalogItem)
class MerchantCatalogItemAdmin(ServiceErrorsAdmin, ReadOnlyHistoryAdmin):
    form = CatalogItemForm
    list_display = [
        "reward",
        "merchant",
        "is_enabled",
        "min_points",
        "max_points",
        "needs_review",
        "pricing_error",
        "priced_at",
    ]
    list_filter = ["merchant", "is_enabled", "needs_review", "reward__type"]
    search_fields = ["reward__name", "reward__slug", "merchant__name", "merchant__slug"]
    list_select_related = ["merchant", "reward"]
    autocomplete_fields = ["merchant", "reward"]
    filter_horizontal = ["allowed_tiers"]
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = [
        "prices_shown",
        "min_points",
        "max_points",
        "points_per_unit",
        "rate_used",
        "point_value_used",
        "priced_at",
        "needs_review",
        "review_note",
    ]
    fieldsets = [
        (None, {"fields": ["merchant", "reward", "is_enabled"]}),
        (
            "Pricing terms",
            {
                "fields": [
                    ("margin_percent", "price_step", "price_rounding"),
                    "fixed_prices",
                    "fixed_points_per_unit",
                ]
            },
        ),
        ("Who can redeem it", {"fields": ["allowed_tiers", ("limit_per_month", "limit_ever")]}),
        (
            "Prices (computed)",
            {
                "fields": [
                    "prices_shown",
                    ("min_points", "max_points", "points_per_unit"),
                    ("rate_used", "point_value_used", "priced_at"),
                    ("needs_review", "review_note"),
                ]
            },
        ),
    ]

    def get_readonly_fields(
        self, request: HttpRequest, obj: MerchantCatalogItem | None = None
    ) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["merchant", "reward"]
        return fields

    def get_form(
        self, request: HttpRequest, obj: MerchantCatalogItem | None = None, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, **kwargs)
        if "allowed_tiers" in form.base_fields:
            tiers = form.base_fields["allowed_tiers"]
            tiers.queryset = (
                Tier.objects.filter(program__merchant=obj.merchant, program__is_active=True)
                if obj is not None
                else Tier.objects.none()
            )
        return form

    @admin.display(description="Prices")
    def prices_shown(self, item: MerchantCatalogItem) -> str:
        return price_lines(item) if item.pk else "-"

    def save_model(
        self, request: HttpRequest, obj: MerchantCatalogItem, form: Any, change: bool
    ) -> None:
        services.catalog_item_save(item=obj, actor=request.user)

    # -- adding rewards in bulk ------------------------------------------------------------

    def get_urls(self) -> list:
        return [
            path(
                "add-rewards/",
                self.admin_site.admin_view(self.add_rewards_view),
                name="catalog_merchantcatalogitem_add_rewards",
            ),
            *super().get_urls(),
        ]

    def add_rewards_view(self, request: HttpRequest) -> HttpResponse:
        """Pick a merchant, a country and a type; tick the active rewards to add; see the
        prices they got."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else request.GET
        form = AddRewardsForm(data if "merchant" in data else None)
        context: dict[str, Any] = {"form": form, "rewards": None, "added": None}
        if form.is_valid():
            merchant = form.cleaned_data["merchant"]
            matching = (
                Reward.objects.filter(status=RewardStatus.ACTIVE, type=form.cleaned_data["type"])
                .filter(in_country(form.cleaned_data["country"]))
                .select_related("brand")
            )
            if request.method == "POST":
                chosen = [pk for pk in request.POST.getlist("reward") if pk.isdigit()]
                if not chosen:
                    self.message_user(request, "Tick the rewards to add.", messages.WARNING)
                else:
                    added = self._add(request, merchant, matching.filter(pk__in=chosen), form)
                    if added is not None:
                        context["added"] = added
            present = set(
                MerchantCatalogItem.objects.filter(merchant=merchant).values_list(
                    "reward_id", flat=True
                )
            )
            context["rewards"] = [
                (
                    reward,
                    reward.pk in present,
                    denominations.describe(denominations.of_reward(reward)),
                )
                for reward in matching
            ]
            context["merchant"] = merchant
            context["catalog_url"] = (
                reverse("admin:catalog_merchantcatalogitem_changelist")
                + f"?merchant__id__exact={merchant.pk}"
            )
        return TemplateResponse(
            request,
            "admin/catalog/merchantcatalogitem/add_rewards.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Add rewards to a merchant's catalog",
                **context,
            },
        )

    def _add(
        self, request: HttpRequest, merchant: Merchant, rewards: QuerySet, form: AddRewardsForm
    ) -> list[tuple[MerchantCatalogItem, str]] | None:
        try:
            items = services.catalog_items_add(
                merchant=merchant, rewards=list(rewards), actor=request.user, **form.terms()
            )
        except DomainError as error:
            self.message_user(request, f"{merchant}: {error.detail}", messages.ERROR)
            return None
        except ValidationError as error:
            self.message_user(request, f"{merchant}: {' '.join(error.messages)}", messages.ERROR)
            return None
        self.message_user(
            request, f"{len(items)} reward(s) added to {merchant}'s catalog.", messages.SUCCESS
        )
        return [(item, price_lines(item)) for item in items]
