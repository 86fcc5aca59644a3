"""Stores, API keys, history, fee plans, portal users and usage records."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RangeDateTimeFilter
from unfold.paginator import InfinitePaginator

from core import formatting
from core.actors import Actor
from core.admin.actions import ConfirmActions
from core.admin.display import (
    link_column,
    moment_column,
    money_column,
    words_list,
    yes_no_column,
)
from core.admin.filters import RecordFilter, queue_filter
from merchants import silence
from merchants.admin.forms import ReasonForm, StoreForm, StoreSecretRights
from merchants.admin.inlines import fee_plan_create_from_form
from merchants.models import (
    FeePlan,
    MerchantAPIKey,
    MerchantEvent,
    MerchantMembership,
    Scope,
    Store,
    UsageRecord,
)
from merchants.queues import stores_silent
from merchants.services import api_keys, stores, team


@admin.register(Store)
class StoreAdmin(StoreSecretRights, ModelAdmin):
    form = StoreForm
    list_display = [
        "name",
        "merchant_link",
        "platform",
        "domain",
        "active",
        "last_event",
        "usual_gap",
        "connection",
    ]
    merchant_link = link_column("merchant", description="Merchant")
    active = yes_no_column(
        "is_active", description="Active", yes="Active", no="Inactive", no_tone="warning"
    )
    last_event = moment_column("last_event_at", description="Last event")

    @admin.display(description="Usual gap")
    def usual_gap(self, store: Store) -> str:
        """How often the store usually sends something (``merchants.silence``), in words."""
        if store.event_gaps < silence.MIN_GAPS:
            if not store.last_event_at:
                return formatting.MISSING
            return f"Learning ({store.event_gaps} of {silence.MIN_GAPS} gaps)"
        return f"About every {silence.gap_words(store.usual_event_gap)}"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A store is deactivated, never deleted: its orders and webhooks name it.
        return False

    list_filter = [
        "platform",
        "is_active",
        queue_filter(
            title="events",
            parameter_name="silent",
            label="Silent for longer than usual",
            rows=lambda stores: stores_silent(stores, now=timezone.now()),
        ),
    ]
    search_fields = ["name", "domain", "merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant"]
    readonly_fields = ["public_id", "connection", "created_at", "last_event", "usual_gap"]
    fields = [
        "merchant",
        "name",
        "platform",
        "domain",
        "is_active",
        "earn_on",
        "earn_on_tax",
        "earn_on_shipping",
        "new_webhook_secret",
        "public_id",
        "connection",
        "last_event",
        "usual_gap",
        "created_at",
    ]
    show_full_result_count = False
    actions = ["rotate_webhook_secret"]

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        return super().get_form(request, obj, change, form=self.store_form(request), **kwargs)

    def save_model(self, request: HttpRequest, obj: Store, form: StoreForm, change: bool) -> None:
        stores.store_save(
            store=obj, webhook_secret=form.new_secret(), actor=Actor.staff(request.user)
        )

    def has_set_webhook_secret_permission(self, request: HttpRequest) -> bool:
        return self.may_set_webhook_secret(request)

    @admin.display(description="Connection")
    def connection(self, store: Store) -> str:
        """The store's connection page (the integrations app's): the URL and secret to
        paste into the platform, and the latest deliveries."""
        if store.pk is None:
            return "-"
        url = reverse("admin:integrations_inboxdelivery_connect", args=[store.pk])
        return format_html('<a href="{}">Set up and check webhooks</a>', url)

    @admin.action(
        description="Rotate the webhook secret and show it once",
        permissions=["set_webhook_secret"],
    )
    def rotate_webhook_secret(self, request: HttpRequest, queryset: QuerySet):
        rotated = [
            (store, stores.store_set_webhook_secret(store=store, actor=Actor.staff(request.user)))
            for store in queryset.select_related("merchant")
        ]
        return TemplateResponse(
            request,
            "admin/merchants/store/secrets_shown_once.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "New webhook secrets",
                "rotated": rotated,
            },
        )


class RevokeForm(ReasonForm):
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))


class SecondFactorResetForm(ReasonForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="How the request was verified (who asked, and how you knew it was them).",
    )


@admin.register(MerchantAPIKey)
class MerchantAPIKeyAdmin(ConfirmActions, ModelAdmin):
    """Keys are issued from the merchant's page (the clear key is shown once there) and
    can only be revoked here."""

    list_display = [
        "prefix",
        "name",
        "merchant_link",
        "store",
        "scope_list",
        "issued",
        "last_used",
        "revoked_label",
    ]
    merchant_link = link_column("merchant", description="Merchant")
    issued = moment_column("created", description="Issued")
    last_used = moment_column("last_used_at", description="Last used")
    revoked_label = yes_no_column(
        "revoked", description="State", yes="Revoked", no="Active", no_tone="success"
    )
    list_filter = ["revoked", "merchant__status"]
    search_fields = ["prefix", "name", "merchant__name", "merchant__slug"]
    list_select_related = ["merchant", "store"]
    readonly_fields = [
        "prefix",
        "name",
        "merchant",
        "store",
        "scopes",
        "created",
        "created_by",
        "last_used_at",
        "expiry_date",
        "revoked",
        "revoked_at",
    ]
    fields = readonly_fields
    show_full_result_count = False
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Scopes")
    def scope_list(self, obj: MerchantAPIKey) -> str:
        return words_list(obj.scopes, dict(Scope.choices))

    @admin.action(description="Revoke the selected keys…", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet):
        return self.confirm_then_apply(
            request,
            queryset.select_related("merchant"),
            form=self.confirm_form(RevokeForm, request),
            title="Revoke API keys (this cannot be undone)",
            action="revoke",
            call=lambda api_key, data: api_keys.api_key_revoke(
                api_key=api_key, reason=data["reason"], actor=Actor.staff(request.user)
            ),
            summary=lambda revoked: f"{revoked} key(s) revoked.",
        )


@admin.register(MerchantEvent)
class MerchantEventAdmin(ModelAdmin):
    list_display = [
        "created_at",
        "merchant",
        "kind",
        "from_status",
        "to_status",
        "checklist_item",
        "actor_label",
    ]
    list_filter = [
        "kind",
        "to_status",
        ("created_at", RangeDateTimeFilter),
        ("merchant", RecordFilter),
    ]
    search_fields = ["merchant__name", "merchant__slug", "reason", "actor_label"]
    list_select_related = ["merchant"]
    show_full_result_count = False
    list_filter_submit = True
    paginator = InfinitePaginator

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(FeePlan)
class FeePlanAdmin(ModelAdmin):
    list_display = [
        "merchant_link",
        "valid_from",
        "platform_fee",
        "per_member",
        "per_redemption",
        "margin",
    ]
    merchant_link = link_column("merchant", description="Merchant")
    platform_fee = money_column(
        "monthly_platform_fee", currency="currency", description="Platform fee a month"
    )

    @admin.display(description="Per active member", ordering="fee_per_active_member")
    def per_member(self, plan: FeePlan) -> str:
        return formatting.unit_money(plan.fee_per_active_member, plan.currency)

    @admin.display(description="Per redemption", ordering="fee_per_redemption")
    def per_redemption(self, plan: FeePlan) -> str:
        return formatting.unit_money(plan.fee_per_redemption, plan.currency)

    @admin.display(description="Margin on rewards", ordering="reward_margin_percent")
    def margin(self, plan: FeePlan) -> str:
        return formatting.percent(plan.reward_margin_percent / 100)

    list_filter = ["currency"]
    search_fields = ["merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant"]
    readonly_fields = ["created_by", "created_at"]
    show_full_result_count = False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: FeePlan, form, change: bool) -> None:
        created = fee_plan_create_from_form(
            merchant=obj.merchant, plan=obj, actor=Actor.staff(request.user)
        )
        obj.pk = created.pk
        obj._state.adding = False


@admin.register(MerchantMembership)
class MerchantMembershipAdmin(ConfirmActions, ModelAdmin):
    list_display = ["user", "merchant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "merchant__name", "merchant__slug"]
    list_select_related = ["user", "merchant"]
    autocomplete_fields = ["user", "merchant"]
    show_full_result_count = False
    actions = ["reset_second_factor"]

    def has_reset_second_factor_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("merchants.reset_second_factor")

    @admin.action(
        description="Reset the second factor of the selected users…",
        permissions=["reset_second_factor"],
    )
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet):
        return self.confirm_then_apply(
            request,
            queryset.select_related("merchant", "user"),
            form=self.confirm_form(SecondFactorResetForm, request),
            title="Reset second factors (each user sets up a new one at their next sign-in)",
            action="reset_second_factor",
            call=lambda membership, data: team.portal_user_second_factor_reset(
                membership=membership, reason=data["reason"], actor=Actor.staff(request.user)
            ),
            summary=lambda done: f"{done} user(s) will set up a new second factor.",
        )


@admin.register(UsageRecord)
class UsageRecordAdmin(MerchantEventAdmin):
    """What the invoices will be built from: read only."""

    list_display = [
        "occurred",
        "merchant_link",
        "kind",
        "source_ref",
        "quantity",
        "value",
        "cost_shown",
        "fee_shown",
    ]
    merchant_link = link_column("merchant", description="Merchant")
    occurred = moment_column("occurred_at", description="When")
    value = money_column("reward_value", currency="currency", description="Reward value")
    cost_shown = money_column("cost", currency="currency", description="Cost")
    fee_shown = money_column("fee", currency="currency", description="Fee")
    list_filter = [
        "kind",
        "currency",
        ("occurred_at", RangeDateTimeFilter),
        ("merchant", RecordFilter),
    ]
    search_fields = ["merchant__name", "merchant__slug", "source_ref"]
    list_filter_submit = True
