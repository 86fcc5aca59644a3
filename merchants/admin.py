"""Admin for the provider's operations staff. Every action calls a service in
``merchants.services``; nothing here changes a status or a key by itself."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from rest_framework_api_key.models import APIKey

from merchants import services
from merchants.exceptions import DomainError
from merchants.models import (
    MERCHANT_TRANSITIONS,
    ChecklistItem,
    FeePlan,
    Merchant,
    MerchantAPIKey,
    MerchantEvent,
    MerchantMembership,
    MerchantStatus,
    OnboardingChecklistItem,
    Scope,
    Store,
    UsageRecord,
)

# The library's own key model is unused: keys here are MerchantAPIKey, issued per merchant.
admin.site.unregister(APIKey)

TRANSITION_LABELS = {
    MerchantStatus.IN_REVIEW: "Start review",
    MerchantStatus.APPROVED: "Approve",
    MerchantStatus.REJECTED: "Reject",
    MerchantStatus.LIVE: "Go live (or reactivate)",
    MerchantStatus.SUSPENDED: "Suspend",
    MerchantStatus.OFFBOARDED: "Offboard",
}


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded in the merchant's history.",
    )


class ChecklistForm(forms.Form):
    item = forms.ChoiceField(choices=ChecklistItem.choices)
    done = forms.TypedChoiceField(
        choices=[("1", "Mark as done"), ("0", "Reopen")],
        coerce=lambda value: value == "1",
        initial="1",
    )
    note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="What was checked (required to reopen).",
    )


class IssueKeyForm(forms.Form):
    name = forms.CharField(max_length=50, help_text="Who uses the key, e.g. 'Shopify app'.")
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        initial=[Scope.READ, Scope.WRITE],
        widget=forms.CheckboxSelectMultiple,
    )
    store = forms.ModelChoiceField(queryset=Store.objects.none(), required=False)
    expires_at = forms.DateTimeField(required=False, help_text="Optional, e.g. 2027-01-31 00:00")

    def __init__(self, *args, merchant: Merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = Store.objects.filter(merchant=merchant)


class StoreForm(forms.ModelForm):
    new_webhook_secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave blank to keep the current secret; a new store gets a random one. "
        "Paste the platform's secret here when it issues one (Shopify's app secret).",
    )

    class Meta:
        model = Store
        fields = ["name", "platform", "domain", "is_active"]

    def clean_domain(self) -> str:
        return self.cleaned_data["domain"].strip().lower()

    def save(self, commit: bool = True) -> Store:
        store = super().save(commit=False)
        if self.cleaned_data.get("new_webhook_secret"):
            store.webhook_secret = self.cleaned_data["new_webhook_secret"]
        elif not store.webhook_secret:
            store.webhook_secret = services.new_webhook_secret()
        if commit:
            store.save()
        return store


class SelectRelatedInline(admin.TabularInline):
    """An inline whose rows load their foreign keys in the same query."""

    list_select_related: list[str] = []

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related(*self.list_select_related)


class ReadOnlyInline(SelectRelatedInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


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


class StoreInline(admin.TabularInline):
    model = Store
    form = StoreForm
    extra = 0
    fields = ["name", "platform", "domain", "is_active", "new_webhook_secret"]


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


class MembershipInline(SelectRelatedInline):
    model = MerchantMembership
    list_select_related = ["merchant", "user"]
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    verbose_name_plural = "Merchant portal users"


def _create_fee_plan(*, merchant: Merchant, plan: FeePlan, actor) -> FeePlan:
    """Save a fee plan the admin form built, through the service."""
    return services.fee_plan_create(
        merchant=merchant,
        valid_from=plan.valid_from,
        currency=plan.currency,
        monthly_platform_fee=plan.monthly_platform_fee,
        fee_per_active_member=plan.fee_per_active_member,
        fee_per_redemption=plan.fee_per_redemption,
        reward_margin_percent=plan.reward_margin_percent,
        actor=actor,
    )


def _transition_action(to_status: str):
    def action(modeladmin: "MerchantAdmin", request: HttpRequest, queryset: QuerySet):
        return modeladmin.transition_selected(request, queryset, to_status)

    action.__name__ = f"transition_to_{to_status}"
    action.short_description = f"{TRANSITION_LABELS[to_status]}…"
    action.allowed_permissions = ("change",)
    return action


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "status",
        "country",
        "default_currency",
        "checklist_progress",
        "created_at",
    ]
    list_filter = ["status", "country"]
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
        MembershipInline,
        APIKeyInline,
        EventInline,
    ]
    actions = [_transition_action(status) for status in TRANSITION_LABELS] + ["tick_checklist"]
    change_form_template = "admin/merchants/merchant/change_form.html"

    class Media:
        css = {"all": ["merchants/admin.css"]}

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # A merchant's rows (ledger, invoices) outlive it: offboard, never delete.
        return False

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
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (
                    reverse("admin:merchants_merchant_transition", args=[obj.pk, status]),
                    TRANSITION_LABELS[status],
                )
                for status in moves
            ),
        )

    # -- create and save through the services ----------------------------------------------

    def save_model(self, request: HttpRequest, obj: Merchant, form, change: bool) -> None:
        if change:
            obj.save()
            return
        created = services.merchant_create(
            name=obj.name,
            slug=obj.slug,
            country=obj.country.code,
            default_currency=obj.default_currency,
            legal_name=obj.legal_name,
            timezone_name=str(obj.timezone),
            contact_email=obj.contact_email,
            actor=request.user,
        )
        obj.pk = created.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is not FeePlan:
            super().save_formset(request, form, formset, change)
            return
        # Fee plans go through their service (validation, the checklist tick); existing plans
        # are read-only in the inline, so only new ones arrive here.
        formset.save(commit=False)
        formset.new_objects = [
            _create_fee_plan(merchant=form.instance, plan=plan, actor=request.user)
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
            *super().get_urls(),
        ]

    def _change_url(self, merchant: Merchant) -> str:
        return reverse("admin:merchants_merchant_change", args=[merchant.pk])

    def _get_for_change(self, request: HttpRequest, pk: int) -> Merchant:
        merchant = get_object_or_404(Merchant, pk=pk)
        if not self.has_change_permission(request, merchant):
            raise PermissionDenied
        return merchant

    def _apply_transitions(self, request, merchants, to_status: str, reason: str) -> None:
        moved = 0
        for merchant in merchants:
            try:
                services.merchant_transition(
                    merchant=merchant, to_status=to_status, reason=reason, actor=request.user
                )
                moved += 1
            except DomainError as error:
                self.message_user(request, f"{merchant}: {error.detail}", messages.ERROR)
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
        merchant = self._get_for_change(request, pk)
        if to_status not in TRANSITION_LABELS:
            raise PermissionDenied
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

    @admin.action(description="Tick or reopen a checklist item…", permissions=["change"])
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
        merchant = self._get_for_change(request, pk)
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
                services.checklist_item_complete(
                    merchant=merchant, item=data["item"], note=data["note"], actor=request.user
                )
            else:
                services.checklist_item_reopen(
                    merchant=merchant, item=data["item"], reason=data["note"], actor=request.user
                )
        except DomainError as error:
            self.message_user(request, f"{merchant}: {error.detail}", messages.ERROR)
        else:
            label = ChecklistItem(data["item"]).label
            state = "done" if data["done"] else "reopened"
            self.message_user(request, f"{merchant}: {label} {state}.", messages.SUCCESS)

    def issue_key_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        merchant = self._get_for_change(request, pk)
        if not request.user.has_perm("merchants.add_merchantapikey"):
            raise PermissionDenied
        form = IssueKeyForm(request.POST or None, merchant=merchant)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                api_key, raw_key = services.api_key_issue(
                    merchant=merchant,
                    name=data["name"],
                    scopes=data["scopes"],
                    store=data["store"],
                    expires_at=data["expires_at"],
                    actor=request.user,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.detail)
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

    def _render_form(self, request, *, title, form, merchants, action: str | None = None):
        return TemplateResponse(
            request,
            "admin/ops_action_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                "form": form,
                "objects": merchants,
                "action": action,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["transition_links"] = [
                (
                    reverse("admin:merchants_merchant_transition", args=[obj.pk, status]),
                    TRANSITION_LABELS[status],
                )
                for status in sorted(MERCHANT_TRANSITIONS[obj.status])
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    form = StoreForm
    list_display = ["name", "merchant", "platform", "domain", "is_active", "public_id"]
    list_filter = ["platform", "is_active"]
    search_fields = ["name", "domain", "merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant"]
    readonly_fields = ["public_id", "created_at"]
    fields = [
        "merchant",
        "name",
        "platform",
        "domain",
        "is_active",
        "new_webhook_secret",
        "public_id",
        "created_at",
    ]
    show_full_result_count = False
    actions = ["rotate_webhook_secret"]

    @admin.action(description="Rotate the webhook secret and show it once", permissions=["change"])
    def rotate_webhook_secret(self, request: HttpRequest, queryset: QuerySet):
        rotated = [
            (store, services.store_set_webhook_secret(store=store, actor=request.user))
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


@admin.register(MerchantAPIKey)
class MerchantAPIKeyAdmin(admin.ModelAdmin):
    """Keys are issued from the merchant's page (the clear key is shown once there) and
    can only be revoked here."""

    list_display = [
        "prefix",
        "name",
        "merchant",
        "store",
        "scope_list",
        "created",
        "last_used_at",
        "expiry_date",
        "revoked",
    ]
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
        return ", ".join(obj.scopes)

    @admin.action(description="Revoke the selected keys…", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet):
        form = RevokeForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for api_key in queryset.select_related("merchant"):
                services.api_key_revoke(
                    api_key=api_key, reason=form.cleaned_data["reason"], actor=request.user
                )
            self.message_user(request, f"{queryset.count()} key(s) revoked.", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/ops_action_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Revoke API keys (this cannot be undone)",
                "form": form,
                "objects": list(queryset),
                "action": "revoke",
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(MerchantEvent)
class MerchantEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "merchant",
        "kind",
        "from_status",
        "to_status",
        "checklist_item",
        "actor_label",
    ]
    list_filter = ["kind", "to_status"]
    search_fields = ["merchant__name", "merchant__slug", "reason", "actor_label"]
    list_select_related = ["merchant"]
    show_full_result_count = False
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(FeePlan)
class FeePlanAdmin(admin.ModelAdmin):
    list_display = [
        "merchant",
        "valid_from",
        "currency",
        "monthly_platform_fee",
        "fee_per_active_member",
        "fee_per_redemption",
        "reward_margin_percent",
    ]
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
        created = _create_fee_plan(merchant=obj.merchant, plan=obj, actor=request.user)
        obj.pk = created.pk
        obj._state.adding = False


@admin.register(MerchantMembership)
class MerchantMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "merchant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "merchant__name", "merchant__slug"]
    list_select_related = ["user", "merchant"]
    autocomplete_fields = ["user", "merchant"]
    show_full_result_count = False


@admin.register(UsageRecord)
class UsageRecordAdmin(MerchantEventAdmin):
    """What the invoices will be built from: read only."""

    list_display = [
        "occurred_at",
        "merchant",
        "kind",
        "source_ref",
        "quantity",
        "reward_value",
        "cost",
        "fee",
        "currency",
    ]
    list_filter = ["kind", "currency", "merchant"]
    search_fields = ["merchant__name", "merchant__slug", "source_ref"]
    date_hierarchy = "occurred_at"
