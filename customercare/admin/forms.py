"""The forms of the ticket page, the goodwill decisions and the reports page. They parse
input only; the services decide."""

import datetime
import uuid

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from core.admin.forms import reason_form
from customercare.assignment import CARE_GROUP
from customercare.attachments import MAX_FILES
from customercare.goodwill import NOTE_MAX, POINTS_MAX
from customercare.models import (
    TICKET_TRANSITIONS,
    UNRESOLVED_STATUSES,
    CannedReply,
    GoodwillReason,
    Ticket,
    TicketCategory,
    TicketPriority,
    TicketStatus,
)
from customercare.reports import MAX_DAYS
from customercare.services import BODY_MAX, REPLY_THEN, SUBJECT_MAX
from fulfillment.models import Redemption
from loyalty.models import Member
from merchants.models import Merchant

# -- the ticket page -------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; the attachment rules check them in the service."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if len(files) > MAX_FILES:
            raise forms.ValidationError(f"At most {MAX_FILES} files per message.")
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


def _body_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 7, "cols": 80}),
    )


class ReplyForm(forms.Form):
    """A public reply, emailed to the member; a canned reply can be inserted first."""

    body = _body_field("Reply to the member")
    canned = forms.ChoiceField(label="Canned reply", required=False)
    then = forms.ChoiceField(
        label="Then",
        required=False,
        choices=[("", "Keep the status")]
        + [(status, f"Set {TicketStatus(status).label.lower()}") for status in REPLY_THEN],
    )
    attachments = MultipleFileField(required=False)

    def __init__(self, *args, replies: list[CannedReply] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["canned"].choices = [("", "---------")] + [
            (str(reply.pk), reply.title) for reply in replies
        ]


class NoteForm(forms.Form):
    """An internal note: agents only, never shown to the member."""

    body = _body_field("Internal note")
    attachments = MultipleFileField(required=False)


class StatusForm(forms.Form):
    # Any status is accepted here: the service refuses illegal moves with its reason.
    # The menu offers only the moves allowed from the current status.
    to = forms.ChoiceField(
        label="Move to",
        choices=[(s.value, s.label) for s in TicketStatus if s != TicketStatus.MERGED],
    )
    note = forms.CharField(label="Why", max_length=500, required=False)

    def __init__(self, *args, ticket: Ticket, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        allowed = TICKET_TRANSITIONS[ticket.status] - {TicketStatus.MERGED}
        self.fields["to"].widget.choices = [
            (s.value, s.label) for s in TicketStatus if s in allowed
        ]


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(choices=TicketPriority.choices)


class CategoryForm(forms.Form):
    category = forms.ChoiceField(choices=TicketCategory.choices)


def care_agents() -> QuerySet:
    """Who can be given tickets: active staff of the Customer care group, superusers."""
    return (
        get_user_model()
        .objects.filter(Q(groups__name=CARE_GROUP) | Q(is_superuser=True), is_active=True)
        .filter(is_staff=True)
        .distinct()
        .order_by("username")
    )


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_username()


class AssignForm(forms.Form):
    assignee = AgentChoiceField(queryset=care_agents(), required=False, empty_label="Nobody")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = care_agents()


class TicketChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Ticket) -> str:
        return f"{obj.reference} {obj.subject} ({obj.get_status_display()})"


class MergeForm(forms.Form):
    """Into another open ticket of the same member (the service checks it again)."""

    into = TicketChoiceField(
        label="Merge into", queryset=Ticket.objects.none(), to_field_name="reference"
    )

    def __init__(self, *args, ticket: Ticket, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["into"].queryset = merge_targets(ticket)


def merge_targets(ticket: Ticket) -> QuerySet[Ticket]:
    return (
        Ticket.objects.filter(
            merchant_id=ticket.merchant_id,
            member_id=ticket.member_id,
            status__in=[*UNRESOLVED_STATUSES, TicketStatus.RESOLVED],
        )
        .exclude(pk=ticket.pk)
        .order_by("-created_at")
    )


class GoodwillForm(forms.Form):
    """``key`` is drawn when the form is shown: submitting it twice posts once."""

    points = forms.IntegerField(min_value=1, max_value=POINTS_MAX)
    reason = forms.ChoiceField(choices=GoodwillReason.choices)
    note = forms.CharField(max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("key", uuid.uuid4())
        super().__init__(*args, **kwargs)


class AdjustmentForm(forms.Form):
    """Which adjustment a decision on the ticket page is about."""

    adjustment = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class RejectForm(AdjustmentForm):
    note = forms.CharField(label="Why not", max_length=NOTE_MAX)


ReasonForm = reason_form("the redemption's")


# -- the goodwill list -----------------------------------------------------------------------


class DecisionNoteForm(forms.Form):
    note = forms.CharField(
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Written on the ticket as an internal note.",
    )


# -- reports ---------------------------------------------------------------------------------


class ReportForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))
    merchant = forms.ModelChoiceField(
        queryset=Merchant.objects.order_by("name"), required=False, empty_label="All merchants"
    )

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        for name, day in (("start", start), ("end", end)):
            if day and not 2000 <= day.year <= 2200:
                self.add_error(name, "A date between the years 2000 and 2200.")
                return data
        if start and end:
            if end < start:
                raise forms.ValidationError("The range ends before it starts.")
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(f"At most {MAX_DAYS} days at a time.")
        return data

    @classmethod
    def default_range(cls, today: datetime.date) -> dict:
        return {"start": today - datetime.timedelta(days=29), "end": today}


# -- opening a ticket from the member page --------------------------------------------------


class OpenTicketForm(forms.Form):
    """A ticket an agent opens for a member (a call, a chat): the note is internal."""

    category = forms.ChoiceField(choices=TicketCategory.choices)
    priority = forms.ChoiceField(choices=TicketPriority.choices, initial=TicketPriority.NORMAL)
    subject = forms.CharField(max_length=SUBJECT_MAX)
    note = forms.CharField(
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 60}),
        help_text="What the member told you; an internal note, not sent to them.",
    )
    order = forms.CharField(
        max_length=128,
        required=False,
        label="Order number",
        help_text="For missing points: the store's number of the order.",
    )
    redemption = forms.ModelChoiceField(
        queryset=Redemption.objects.none(),
        required=False,
        help_text="For a reward not received or the wrong one.",
    )

    def __init__(self, *args, member: Member, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["redemption"].queryset = (
            Redemption.objects.filter(merchant_id=member.merchant_id, member=member)
            .select_related("reward")
            .order_by("-created_at", "-id")
        )
        self.fields["redemption"].label_from_instance = lambda redemption: (
            f"#{redemption.pk} {redemption.reward.name}"
        )
