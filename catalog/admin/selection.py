"""Each merchant's catalog: its items, their point prices, adding rewards in bulk."""

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django_countries import countries as all_countries

from catalog import denominations, services
from catalog.admin.base import in_country
from catalog.models import (
    MerchantCatalogItem,
    PriceRounding,
    Reward,
    RewardStatus,
    RewardType,
)
from core.actors import Actor
from core.admin.errors import ServiceErrorsAdmin, form_error
from core.admin.readonly import ReadOnlyHistoryAdmin
from core.exceptions import DomainError
from loyalty.models import Achievement, Campaign, CampaignEffect, Segment, Tier
from merchants.models import Merchant

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
            "audience_segment",
            "unlocked_by",
            "unlocked_by_achievement",
            "limit_per_month",
            "limit_ever",
        ]

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.instance.reward_id is None:
            return
        try:
            services.item_validate(item=self.instance)
        except DomainError as error:
            form_error(self, error)


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
        (
            "Who can redeem it",
            {
                "fields": [
                    "allowed_tiers",
                    ("audience_segment", "unlocked_by"),
                    "unlocked_by_achievement",
                    ("limit_per_month", "limit_ever"),
                ]
            },
        ),
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
        merchant_id = obj.merchant_id if obj is not None else None
        if "audience_segment" in form.base_fields:
            form.base_fields["audience_segment"].queryset = Segment.objects.filter(
                merchant_id=merchant_id
            )
        if "unlocked_by" in form.base_fields:
            form.base_fields["unlocked_by"].queryset = Campaign.objects.filter(
                program__merchant_id=merchant_id, effect=CampaignEffect.UNLOCK_REWARD
            )
        if "unlocked_by_achievement" in form.base_fields:
            form.base_fields["unlocked_by_achievement"].queryset = Achievement.objects.filter(
                merchant_id=merchant_id
            )
        return form

    @admin.display(description="Prices")
    def prices_shown(self, item: MerchantCatalogItem) -> str:
        return price_lines(item) if item.pk else "-"

    def save_model(
        self, request: HttpRequest, obj: MerchantCatalogItem, form: Any, change: bool
    ) -> None:
        services.catalog_item_save(item=obj, actor=Actor.staff(request.user))

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
                merchant=merchant,
                rewards=list(rewards),
                actor=Actor.staff(request.user),
                **form.terms(),
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
