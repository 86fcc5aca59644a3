"""The forms of the member portal's Help section: asking for help (the subject in the
member's words, the order or the reward it is about, a once-only form key), a reply to
a ticket, and the rating of an answer."""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import formatting
from customercare import services
from customercare.models import TicketCategory
from fulfillment.models import Redemption

# The categories in the member's words, in the order the form offers them.
CATEGORY_WORDS = [
    (TicketCategory.MISSING_POINTS, gettext_lazy("I didn't get my points for an order")),
    (TicketCategory.REWARD_NOT_RECEIVED, gettext_lazy("My reward hasn't arrived")),
    (TicketCategory.WRONG_REWARD, gettext_lazy("I received the wrong reward")),
    (TicketCategory.REDEMPTION_QUESTION, gettext_lazy("A question about a reward")),
    (TicketCategory.ACCOUNT_AND_DATA, gettext_lazy("My account and my data")),
    (TicketCategory.OTHER, gettext_lazy("Something else")),
]
# Categories about one of the member's rewards: which one must be named (or may be).
REWARD_REQUIRED = {TicketCategory.REWARD_NOT_RECEIVED, TicketCategory.WRONG_REWARD}
REWARD_CATEGORIES = REWARD_REQUIRED | {TicketCategory.REDEMPTION_QUESTION}


class TicketForm(forms.Form):
    category = forms.ChoiceField(
        label=gettext_lazy("What is it about?"),
        choices=CATEGORY_WORDS,
        widget=forms.RadioSelect,
        error_messages={"required": gettext_lazy("Choose what your question is about.")},
    )
    order = forms.CharField(
        label=gettext_lazy("Order number"),
        help_text=gettext_lazy("As it appears in your order confirmation email."),
        max_length=128,
        required=False,
    )
    redemption = forms.ChoiceField(label=gettext_lazy("Which reward?"), choices=(), required=False)
    subject = forms.CharField(
        label=gettext_lazy("Subject"),
        max_length=services.SUBJECT_MAX,
        error_messages={"required": gettext_lazy("Give your question a short title.")},
    )
    message = forms.CharField(
        label=gettext_lazy("Your message"),
        max_length=services.BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"required": gettext_lazy("Tell us what happened.")},
    )
    form_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, redemptions: list[Redemption], **kwargs):
        super().__init__(*args, **kwargs)
        self.redemptions = {str(r.public_id): r for r in redemptions}
        self.fields["redemption"].choices = [("", _("Choose a reward"))] + [
            (key, redemption_words(r)) for key, r in self.redemptions.items()
        ]

    def clean_subject(self) -> str:
        return self.cleaned_data["subject"].strip()

    def clean_order(self) -> str:
        return self.cleaned_data["order"].strip()

    def clean_form_key(self) -> str:
        key = self.cleaned_data["form_key"]
        if not key.replace("-", "").replace("_", "").isalnum():
            raise forms.ValidationError(_("This form has expired. Send it again."))
        return key

    def clean(self) -> dict:
        data = super().clean()
        category = data.get("category")
        if category == TicketCategory.MISSING_POINTS and not data.get("order"):
            self.add_error("order", _("Tell us the number of the order that earned nothing."))
        if category in REWARD_CATEGORIES:
            if data.get("redemption"):
                data["redemption_obj"] = self.redemptions.get(data["redemption"])
            elif category in REWARD_REQUIRED:
                self.add_error(
                    "redemption",
                    _("Choose the reward this is about.")
                    if self.redemptions
                    else _("You have no rewards yet: choose another subject."),
                )
        return data


def redemption_words(redemption: Redemption) -> str:
    """The reward, its value and the day: "Aurora gift card, $25.00, Dec 7, 2026"."""
    return _("%(reward)s, %(value)s, %(date)s") % {
        "reward": redemption.reward.name,
        "value": formatting.money(redemption.face_value, redemption.face_currency),
        "date": formatting.date(redemption.created_at),
    }


class ReplyForm(forms.Form):
    message = forms.CharField(
        label=gettext_lazy("Your message"),
        max_length=services.BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": gettext_lazy("Write your message first.")},
    )


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(
        label=gettext_lazy("Your rating"),
        choices=[(n, str(n)) for n in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": gettext_lazy("Choose a rating from 1 to 5.")},
    )
    comment = forms.CharField(
        label=gettext_lazy("Anything you would like to add? (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
