"""The merchant portal's forms: input parsing only; the services decide."""

from django import forms

from loyalty.models import MemberStatus
from merchants.models import MembershipRole


class PortalForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class MemberFilterForm(PortalForm):
    q = forms.CharField(label="Email or member id", required=False, max_length=200, strip=True)
    tier = forms.TypedChoiceField(label="Tier", required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *MemberStatus.choices]
    )

    def __init__(self, *args, tiers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", "Any tier"), *((t.pk, t.name) for t in tiers)]


class InviteForm(PortalForm):
    email = forms.EmailField(label="Email", max_length=254)
    role = forms.ChoiceField(label="Role", choices=MembershipRole.choices)


class RoleForm(PortalForm):
    role = forms.ChoiceField(label="Role", choices=MembershipRole.choices)
