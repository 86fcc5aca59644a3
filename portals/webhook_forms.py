"""The forms of the merchant portal's webhook pages: input parsing only; the services
check the URL (the SSRF guard) and the event types."""

from django import forms

from merchants.models import WebhookEventType
from portals.forms import PortalForm


class EndpointForm(PortalForm):
    url = forms.CharField(
        label="URL",
        max_length=500,
        help_text="Where we POST the events: https://, on a public address.",
        widget=forms.URLInput(attrs={"placeholder": "https://crm.example.com/hooks/loyalty"}),
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label="Events to send",
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )


class DisableForm(PortalForm):
    reason = forms.CharField(label="Why", max_length=300, initial="Paused by the owner")


class ReplayForm(PortalForm):
    deliveries = forms.TypedMultipleChoiceField(coerce=int, choices=[])

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deliveries"].choices = [(pk, pk) for pk in choices]
