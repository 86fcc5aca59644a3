"""What the merchant page shows inline: checklist, history, keys, stores, plans, users."""

from typing import Any

from django.db import models
from django.http import HttpRequest
from unfold.admin import StackedInline, TabularInline
from unfold.widgets import UnfoldAdminImageSmallFieldWidget

from core.actors import Actor
from core.admin.readonly import ReadOnlyInline, SelectRelatedInline
from merchants.admin.forms import StoreForm, StoreSecretRights
from merchants.models import (
    FeePlan,
    Merchant,
    MerchantAPIKey,
    MerchantBrand,
    MerchantEvent,
    MerchantMembership,
    OnboardingChecklistItem,
    Store,
)
from merchants.services import billing


class ChecklistInline(ReadOnlyInline):
    model = OnboardingChecklistItem
    list_select_related = ["completed_by"]
    fields = ["item", "completed_at", "completed_by", "note"]
    readonly_fields = fields
    verbose_name_plural = "Onboarding checklist"


class EventInline(ReadOnlyInline):
    model = MerchantEvent
    fields = [
        "created_at",
        "kind",
        "from_status",
        "to_status",
        "checklist_item",
        "reason",
        "actor_label",
    ]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    verbose_name_plural = "History"


class APIKeyInline(ReadOnlyInline):
    model = MerchantAPIKey
    list_select_related = ["store"]
    fields = [
        "prefix",
        "name",
        "scopes",
        "store",
        "created",
        "last_used_at",
        "expiry_date",
        "revoked",
    ]
    readonly_fields = fields
    verbose_name_plural = "API keys (issue one with the button at the top)"


class NamedInputs:
    """Mixed into a tabular inline's form: unfold names a tabular row's fields only in the
    column heads (or, on a phone, in a text beside each), which label no input, so each
    input carries its field's name for screen readers (axe: label, select-name)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("aria-label", str(field.label))


class StoreInline(StoreSecretRights, TabularInline):
    model = Store
    form = StoreForm
    extra = 0
    fields = ["name", "platform", "domain", "is_active", "new_webhook_secret"]

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        form = self.store_form(request)
        form = type(form.__name__, (NamedInputs, form), {})
        return super().get_formset(request, obj, form=form, **kwargs)


class FeePlanInline(SelectRelatedInline):
    """Fee plans are added, never edited: a new plan with a later start supersedes."""

    model = FeePlan
    list_select_related = ["merchant", "created_by"]
    extra = 0
    fields = [
        "valid_from",
        "currency",
        "monthly_platform_fee",
        "fee_per_active_member",
        "fee_per_redemption",
        "reward_margin_percent",
        "created_by",
    ]
    readonly_fields = ["created_by"]
    can_delete = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class MembershipInline(ReadOnlyInline):
    """For reading: portal users are invited with the page's "Invite a portal user" (the
    service writes the event and sends the email), and owners change roles and remove
    people on the portal's team page, where the last owner is kept."""

    model = MerchantMembership
    list_select_related = ["merchant", "user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    verbose_name_plural = "Merchant portal users"


def fee_plan_create_from_form(*, merchant: Merchant, plan: FeePlan, actor: Actor) -> FeePlan:
    """Save a fee plan the admin form built, through the service."""
    return billing.fee_plan_create(
        merchant=merchant,
        valid_from=plan.valid_from,
        currency=plan.currency,
        monthly_platform_fee=plan.monthly_platform_fee,
        fee_per_active_member=plan.fee_per_active_member,
        fee_per_redemption=plan.fee_per_redemption,
        reward_margin_percent=plan.reward_margin_percent,
        actor=actor,
    )


class LogoInput(UnfoldAdminImageSmallFieldWidget):
    """unfold's image input for inlines, with a name for the link of its preview."""

    template_name = "admin/merchants/merchantbrand/logo_input.html"


class BrandInline(StackedInline):
    """The merchant's portal brand; saved through ``services.merchant_brand_save``."""

    model = MerchantBrand
    formfield_overrides = {models.ImageField: {"widget": LogoInput}}
    extra = 0
    max_num = 1
    can_delete = False
    verbose_name_plural = "Brand in the merchant portal and its reports"
