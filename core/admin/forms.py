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
