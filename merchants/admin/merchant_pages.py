"""The merchant page: onboarding moves, the checklist, issuing keys.

Each needs the permission of what it does, not ``change_merchant`` (editing the
merchant's details): moving it through onboarding ``transition_merchant``, ticking its
checklist ``change_onboardingchecklistitem``, issuing an API key ``add_merchantapikey``."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from unfold.admin import ModelAdmin

from core.actors import Actor
from core.admin.actions import ConfirmActions
from core.admin.errors import form_error
from core.admin.filters import queue_filter
from core.admin.related import Related, RelatedRecordsAdmin
from core.admin.rights import require, require_page_action
from core.exceptions import DomainError
from merchants import invoices
from merchants.admin.forms import (
    TRANSITION_LABELS,
    ChecklistForm,
    InvitePortalUserForm,
    IssueKeyForm,
    ReasonForm,
)
from merchants.admin.inlines import (
    APIKeyInline,
    BrandInline,
    ChecklistInline,
    EventInline,
    FeePlanInline,
    MembershipInline,
    StoreInline,
    fee_plan_create_from_form,
)
from merchants.admin.invoices import BillingProfileInline
from merchants.admin.view_as import ViewPortalAsPage
from merchants.models import (
    MERCHANT_TRANSITIONS,
    BillingProfile,
    ChecklistItem,
    FeePlan,
    Merchant,
    MerchantBrand,
)
from merchants.queues import onboarding_blocked
from merchants.services import api_keys, lifecycle, team
from merchants.services.view_as import may_view_portal_as

TRANSITION_PERMISSION = "merchants.transition_merchant"
CHECKLIST_PERMISSION = "merchants.change_onboardingchecklistitem"
ISSUE_KEY_PERMISSION = "merchants.add_merchantapikey"
INVITE_PERMISSION = "merchants.add_merchantmembership"


def _transition_action(to_status: str):
    def action(modeladmin: "MerchantAdmin", request: HttpRequest, queryset: QuerySet):
        return modeladmin.transition_selected(request, queryset, to_status)

    action.__name__ = f"transition_to_{to_status}"
    action.short_description = f"{TRANSITION_LABELS[to_status]}…"
    action.allowed_permissions = ("transition",)
    return action


@admin.register(Merchant)
class MerchantAdmin(RelatedRecordsAdmin, ViewPortalAsPage, ConfirmActions, ModelAdmin):
    related = (
        Related("Stores", "merchants.store", "merchant"),
        Related("Programs", "loyalty.program", "merchant"),
        Related("Members", "loyalty.member", "merchant"),
        Related("Orders", "loyalty.order", "merchant"),
        Related("Redemptions", "fulfillment.redemption", "merchant"),
        Related("Tickets", "customercare.ticket", "merchant"),
        Related("Invoices", "merchants.invoice", "merchant"),
        Related("API keys", "merchants.merchantapikey", "merchant"),
        Related("Portal users", "merchants.merchantmembership", "merchant"),
    )
    list_display = [
        "name",
        "slug",
        "status",
        "country",
        "default_currency",
        "checklist_progress",
        "created_at",
    ]
    list_filter = [
        "status",
        queue_filter(
            title="onboarding",
            parameter_name="onboarding",
            label="Blocked (approved, checklist open)",
            rows=onboarding_blocked,
        ),
        "country",
    ]
    search_fields = ["name", "slug", "legal_name", "contact_email"]
    ordering = ["name"]
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = ["status", "status_changed_at", "allowed_moves", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "legal_name", "contact_email"]}),
        ("Locale", {"fields": ["country", "default_currency", "timezone"]}),
        ("Onboarding", {"fields": ["status", "status_changed_at", "allowed_moves"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [
        ChecklistInline,
        StoreInline,
        FeePlanInline,
        BillingProfileInline,
        BrandInline,
        MembershipInline,
        APIKeyInline,
        EventInline,
    ]
    actions = [_transition_action(status) for status in TRANSITION_LABELS] + ["tick_checklist"]
    # The transition page's moves (``<pk>/transition/<status>/``).
    page_actions = {status: TRANSITION_PERMISSION for status in TRANSITION_LABELS}
    change_form_template = "admin/merchants/merchant/change_form.html"

    class Media:
        css = {"all": ["merchants/admin.css"]}

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # A merchant's rows (ledger, invoices) outlive it: offboard, never delete.
        return False

    def has_transition_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(TRANSITION_PERMISSION)

    def has_tick_checklist_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CHECKLIST_PERMISSION)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                checklist_done=Count("checklist", filter=Q(checklist__completed_at__isnull=False))
            )
        )

    def get_inlines(self, request: HttpRequest, obj: Merchant | None):
        # A new merchant gets its checklist and history from merchant_create.
        return self.inlines if obj is not None else []

    @admin.display(description="Checklist", ordering="checklist_done")
    def checklist_progress(self, obj: Merchant) -> str:
        return f"{getattr(obj, 'checklist_done', 0)}/{len(ChecklistItem.values)}"

    @admin.display(description="Allowed moves")
    def allowed_moves(self, obj: Merchant) -> str:
        if obj.pk is None:
            return "-"
        moves = sorted(MERCHANT_TRANSITIONS[obj.status])
        if not moves:
            return "none (final status)"
        # The buttons above the form make them, for staff who may.
        return ", ".join(str(TRANSITION_LABELS[status]) for status in moves)

    # -- create and save through the services ----------------------------------------------

    def save_model(self, request: HttpRequest, obj: Merchant, form, change: bool) -> None:
        if change:
            lifecycle.merchant_update(
                merchant=obj, changed=form.changed_data, actor=Actor.staff(request.user)
            )
            return
        created = lifecycle.merchant_create(
            name=obj.name,
            slug=obj.slug,
            country=obj.country.code,
            default_currency=obj.default_currency,
            legal_name=obj.legal_name,
            timezone_name=str(obj.timezone),
            contact_email=obj.contact_email,
            actor=Actor.staff(request.user),
        )
        obj.pk = created.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is MerchantBrand:
            formset.save(commit=False)
            for brand, changed in [
                *((brand, ["colour", "logo"]) for brand in formset.new_objects),
                *formset.changed_objects,
            ]:
                brand.merchant = form.instance
                lifecycle.merchant_brand_save(
                    brand=brand, changed=changed, actor=Actor.staff(request.user)
                )
            return
        if formset.model is BillingProfile:
            # Through its service (the merchant's history names the fields changed); the
            # inline cannot delete, so only new and changed profiles arrive here.
            formset.save(commit=False)
            for profile, changed in [
                *((profile, []) for profile in formset.new_objects),
                *formset.changed_objects,
            ]:
                profile.merchant = form.instance
                invoices.billing_profile_save(
                    profile=profile, changed=changed, actor=Actor.staff(request.user)
                )
            return
        if formset.model is not FeePlan:
            super().save_formset(request, form, formset, change)
            return
        # Fee plans go through their service (validation, the checklist tick); existing plans
        # are read-only in the inline, so only new ones arrive here.
        formset.save(commit=False)
        formset.new_objects = [
            fee_plan_create_from_form(
                merchant=form.instance, plan=plan, actor=Actor.staff(request.user)
            )
            for plan in formset.new_objects
        ]

    # -- onboarding moves ---------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/transition/<str:to_status>/",
                view(self.transition_view),
                name="merchants_merchant_transition",
            ),
            path(
                "<int:pk>/checklist/",
                view(self.checklist_view),
                name="merchants_merchant_checklist",
            ),
            path(
                "<int:pk>/issue-key/",
                view(self.issue_key_view),
                name="merchants_merchant_issue_key",
            ),
            path(
                "<int:pk>/invite-portal-user/",
                view(self.invite_portal_user_view),
                name="merchants_merchant_invite_portal_user",
            ),
            *self.view_as_urls(),
            *super().get_urls(),
        ]

    def _change_url(self, merchant: Merchant) -> str:
        return reverse("admin:merchants_merchant_change", args=[merchant.pk])

    def _get_for(self, request: HttpRequest, pk: int, permission: str) -> Merchant:
        """The merchant, for a user who may see it and holds ``permission``."""
        merchant = get_object_or_404(Merchant, pk=pk)
        if not self.has_view_or_change_permission(request, merchant):
            raise PermissionDenied
        require(request, permission)
        return merchant

    def _apply_transitions(self, request, merchants, to_status: str, reason: str) -> None:
        moved = self.apply_each(
            request,
            merchants,
            lambda merchant: lifecycle.merchant_transition(
                merchant=merchant,
                to_status=to_status,
                reason=reason,
                actor=Actor.staff(request.user),
            ),
        )
        if moved:
            self.message_user(
                request, f"{moved} merchant(s) moved to {to_status}.", messages.SUCCESS
            )

    def transition_selected(self, request: HttpRequest, queryset: QuerySet, to_status: str):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            self._apply_transitions(request, list(queryset), to_status, form.cleaned_data["reason"])
            return None
        return self._render_form(
            request,
            title=f"{TRANSITION_LABELS[to_status]}: {queryset.count()} merchant(s)",
            form=form,
            merchants=list(queryset),
            action=f"transition_to_{to_status}",
        )

    def transition_view(self, request: HttpRequest, pk: int, to_status: str) -> HttpResponse:
        require_page_action(self.page_actions, request, to_status)
        merchant = self._get_for(request, pk, TRANSITION_PERMISSION)
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            self._apply_transitions(request, [merchant], to_status, form.cleaned_data["reason"])
            return HttpResponseRedirect(self._change_url(merchant))
        return self._render_form(
            request,
            title=f"{TRANSITION_LABELS[to_status]}: {merchant}",
            form=form,
            merchants=[merchant],
        )

    @admin.action(description="Tick or reopen a checklist item…", permissions=["tick_checklist"])
    def tick_checklist(self, request: HttpRequest, queryset: QuerySet):
        form = ChecklistForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for merchant in queryset:
                self._apply_checklist(request, merchant, form.cleaned_data)
            return None
        return self._render_form(
            request,
            title="Onboarding checklist",
            form=form,
            merchants=list(queryset),
            action="tick_checklist",
        )

    def checklist_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        merchant = self._get_for(request, pk, CHECKLIST_PERMISSION)
        form = ChecklistForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            self._apply_checklist(request, merchant, form.cleaned_data)
            return HttpResponseRedirect(self._change_url(merchant))
        return self._render_form(
            request, title=f"Onboarding checklist: {merchant}", form=form, merchants=[merchant]
        )

    def _apply_checklist(self, request: HttpRequest, merchant: Merchant, data: dict) -> None:
        try:
            if data["done"]:
                lifecycle.checklist_item_complete(
                    merchant=merchant,
                    item=data["item"],
                    note=data["note"],
                    actor=Actor.staff(request.user),
                )
            else:
                lifecycle.checklist_item_reopen(
                    merchant=merchant,
                    item=data["item"],
                    reason=data["note"],
                    actor=Actor.staff(request.user),
                )
        except DomainError as error:
            self.message_user(request, f"{merchant}: {error.detail}", messages.ERROR)
        else:
            label = ChecklistItem(data["item"]).label
            state = "done" if data["done"] else "reopened"
            self.message_user(request, f"{merchant}: {label} {state}.", messages.SUCCESS)

    def issue_key_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        merchant = self._get_for(request, pk, ISSUE_KEY_PERMISSION)
        form = IssueKeyForm(request.POST or None, merchant=merchant)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                api_key, raw_key = api_keys.api_key_issue(
                    merchant=merchant,
                    name=data["name"],
                    scopes=data["scopes"],
                    store=data["store"],
                    expires_at=data["expires_at"],
                    actor=Actor.staff(request.user),
                )
            except DomainError as error:
                form_error(form, error)
            else:
                return TemplateResponse(
                    request,
                    "admin/merchants/merchant/key_issued.html",
                    {
                        **self.admin_site.each_context(request),
                        "opts": self.model._meta,
                        "title": f"API key for {merchant}",
                        "merchant": merchant,
                        "api_key": api_key,
                        "raw_key": raw_key,
                        "api_base": request.build_absolute_uri("/api/v1/"),
                    },
                )
        return self._render_form(
            request, title=f"Issue an API key: {merchant}", form=form, merchants=[merchant]
        )

    def invite_portal_user_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Invite someone to the merchant's portal: the portal's own invitation service,
        so the user, the membership, the event and the email are the same as an owner's."""
        merchant = self._get_for(request, pk, INVITE_PERMISSION)
        form = InvitePortalUserForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                membership = team.portal_user_invite(
                    merchant=merchant,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    actor=Actor.staff(request.user),
                )
            except DomainError as error:
                form_error(form, error)
            else:
                self.message_user(
                    request,
                    f"{membership.user.email} is invited to {merchant}'s portal as "
                    f"{membership.get_role_display().lower()}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._change_url(merchant))
        return self._render_form(
            request, title=f"Invite a portal user: {merchant}", form=form, merchants=[merchant]
        )

    def _render_form(self, request, *, title, form, merchants, action: str | None = None):
        return self.confirm_page(request, title=title, form=form, objects=merchants, action=action)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            user = request.user
            context["transition_links"] = [
                (
                    reverse("admin:merchants_merchant_transition", args=[obj.pk, status]),
                    TRANSITION_LABELS[status],
                )
                for status in sorted(MERCHANT_TRANSITIONS[obj.status])
                if user.has_perm(self.page_actions[status])
            ]
            context["may_tick_checklist"] = user.has_perm(CHECKLIST_PERMISSION)
            context["may_issue_key"] = user.has_perm(ISSUE_KEY_PERMISSION)
            context["may_invite_portal_user"] = user.has_perm(INVITE_PERMISSION)
            context["may_view_portal_as"] = may_view_portal_as(user)
        return super().render_change_form(request, context, add, change, form_url, obj)
