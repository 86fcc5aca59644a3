"""The forms the redemption actions ask for."""

from django import forms

from core.admin.forms import reason_form
from fulfillment.models import Redemption, Shipment, ShipmentStatus
from fulfillment.models.shipments import SHIPMENT_INITIAL

ReasonForm = reason_form("the redemption's")


class DeliverForm(forms.Form):
    codes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="One unit a line: code, or code | PIN, or code | PIN | claim link. "
        "Stored encrypted.",
    )
    expires_on = forms.DateField(required=False, help_text="When the codes expire, if they do.")
    carrier = forms.CharField(required=False, max_length=60)
    tracking_number = forms.CharField(required=False, max_length=100)
    tracking_url = forms.URLField(required=False, max_length=300, assume_scheme="https")

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("codes") and not data.get("tracking_number"):
            raise forms.ValidationError("Give the code(s), the tracking, or both.")
        if bool(data.get("carrier")) != bool(data.get("tracking_number")):
            raise forms.ValidationError("Tracking needs both the carrier and the number.")
        return data

    def code_list(self) -> list[dict]:
        codes = []
        for line in self.cleaned_data["codes"].splitlines():
            parts = [part.strip() for part in line.split("|")]
            if not parts[0]:
                continue
            parts += [""] * 2
            codes.append(
                {
                    "code": parts[0],
                    "pin": parts[1],
                    "claim_url": parts[2],
                    "expires_on": self.cleaned_data.get("expires_on"),
                }
            )
        return codes

    def tracking(self) -> dict | None:
        if not self.cleaned_data.get("tracking_number"):
            return None
        return {
            "carrier": self.cleaned_data["carrier"],
            "number": self.cleaned_data["tracking_number"],
            "url": self.cleaned_data.get("tracking_url", ""),
        }


class ShipmentAddForm(forms.Form):
    carrier = forms.CharField(max_length=60)
    tracking_number = forms.CharField(max_length=100)
    tracking_url = forms.URLField(required=False, max_length=300, assume_scheme="https")
    status = forms.ChoiceField(
        choices=[(value, ShipmentStatus(value).label) for value in SHIPMENT_INITIAL],
        initial=ShipmentStatus.SHIPPED,
    )
    note = forms.CharField(
        required=False, max_length=400, help_text="Recorded in the redemption's history."
    )


class ShipmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Shipment) -> str:
        return f"#{obj.pk} {obj.carrier} {obj.tracking_number} ({obj.get_status_display()})"


class ShipmentMoveForm(forms.Form):
    shipment = ShipmentChoiceField(queryset=Shipment.objects.none(), empty_label=None)
    status = forms.ChoiceField(choices=ShipmentStatus.choices, label="Move to")
    note = forms.CharField(
        required=False, max_length=400, help_text="Recorded in the redemption's history."
    )

    def __init__(self, *args, redemption: Redemption, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["shipment"]
        assert isinstance(field, ShipmentChoiceField)
        field.queryset = Shipment.objects.filter(redemption=redemption)
