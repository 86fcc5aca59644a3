"""The small forms of the admin's confirm pages (``core.admin.actions``): a bare
confirmation, and a reason that the record's history keeps."""

from django import forms

REASON_MAX = 400


class ConfirmForm(forms.Form):
    """Nothing to fill in: the confirm page's button is the answer."""


def reason_form(record: str) -> type[forms.Form]:
    """A form asking why, whose help names where the answer is kept ("the invoice's")."""
    return type(
        "ReasonForm",
        (forms.Form,),
        {
            "reason": forms.CharField(
                max_length=REASON_MAX,
                widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                help_text=f"Recorded in {record} history.",
            )
        },
    )


class NameListField(forms.CharField):
    """A list of names (SKUs, categories) typed as one comma-separated line, never shown
    as JSON: ``["TENT", "MUG"]`` is ``TENT, MUG``."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(part) for part in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list | tuple):
            return [str(part).strip() for part in value if str(part).strip()]
        text = super().to_python(value) or ""
        return [part.strip() for part in text.split(",") if part.strip()]
