"""The forms of the merchant admin's actions, and the labels of status moves."""

from django import forms
from django.http import HttpRequest
from unfold.widgets import UnfoldAdminPasswordWidget

from core.actors import SYSTEM, Actor
from core.admin.forms import reason_form
from merchants.models import (
    ChecklistItem,
    MembershipRole,
    Merchant,
    MerchantStatus,
    Scope,
    Store,
)
from merchants.services import stores

WEBHOOK_SECRET_PERMISSION = "merchants.set_webhook_secret"

TRANSITION_LABELS = {
    MerchantStatus.IN_REVIEW: "Start review",
    MerchantStatus.APPROVED: "Approve",
    MerchantStatus.REJECTED: "Reject",
    MerchantStatus.LIVE: "Go live (or reactivate)",
    MerchantStatus.SUSPENDED: "Suspend",
    MerchantStatus.OFFBOARDED: "Offboard",
}


ReasonForm = reason_form("the merchant's")


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
        # unfold's own password input: Django's plain one has no border under unfold's
        # styles, an empty box nobody sees.
        widget=UnfoldAdminPasswordWidget(render_value=False),
        help_text="Leave blank to keep the current secret; a new store gets a random one. "
        "Paste the platform's secret here when it issues one (Shopify's app secret).",
    )

    class Meta:
        model = Store
        fields = [
            "name",
            "platform",
            "domain",
            "is_active",
            "earn_on",
            "earn_on_tax",
            "earn_on_shipping",
        ]

    def clean_domain(self) -> str:
        return self.cleaned_data["domain"].strip().lower()

    def new_secret(self) -> str | None:
        """The secret staff pasted, if any (the form without the field has none)."""
        return self.cleaned_data.get("new_webhook_secret") or None

    # Who saves the form: set by ``StoreSecretRights.store_form`` for the request.
    actor: Actor = SYSTEM

    def save(self, commit: bool = True) -> Store:
        store = super().save(commit=False)
        if commit:
            store = stores.store_save(
                store=store, webhook_secret=self.new_secret(), actor=self.actor
            )
        return store


class StoreFormWithoutSecret(StoreForm):
    """For staff who may not set the webhook secret: a new store still gets a random one."""

    new_webhook_secret = None


class StoreSecretRights:
    """Mixed into the store admin and the merchant page's store inline: the secret field
    only for staff holding ``set_webhook_secret``; others edit the rest of the store."""

    def may_set_webhook_secret(self, request: HttpRequest) -> bool:
        return request.user.has_perm(WEBHOOK_SECRET_PERMISSION)

    def get_fields(self, request: HttpRequest, obj=None) -> list[str]:
        fields = list(super().get_fields(request, obj))
        if self.may_set_webhook_secret(request):
            return fields
        return [name for name in fields if name != "new_webhook_secret"]

    def store_form(self, request: HttpRequest) -> type[StoreForm]:
        base = StoreForm if self.may_set_webhook_secret(request) else StoreFormWithoutSecret
        return type(base.__name__, (base,), {"actor": Actor.staff(request.user)})


class InvitePortalUserForm(forms.Form):
    email = forms.EmailField(help_text="They get an email with a link to choose a password.")
    role = forms.ChoiceField(
        choices=MembershipRole.choices,
        initial=MembershipRole.OWNER,
        help_text="Owners manage the portal's team and must sign in with an authenticator app.",
    )
