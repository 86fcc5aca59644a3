"""Members: the unified customer view, and the agent's actions that start from it.

Balances are read-only everywhere: they change only through ``loyalty.ledger``, reached
here by the adjust-points action (which calls the same service as the API).

Editing a member's profile needs ``change_member``; what goes further has its own
permission: adjusting points ``adjust_points`` (care agents credit points only as goodwill
on a ticket, with its threshold, approval and limits), erasing personal data
``anonymise_member``, exporting members ``export_member``; importing them needs the rights
to add and to change members."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from import_export.formats import base_formats
from unfold.admin import ModelAdmin
from unfold.paginator import InfinitePaginator

from core.actors import Actor
from core.admin.actions import ConfirmActions
from core.admin.buttons import NO_SAVE_BUTTONS
from core.admin.display import (
    link_column,
    points_column,
    state_column,
    truncated,
    yes_no_column,
)
from core.admin.filters import RecordFilter
from core.admin.importexport import StaffImportExportAdmin
from core.admin.related import Related, RelatedRecordsAdmin
from loyalty.admin import member_page
from loyalty.member_search import member_search_results
from loyalty.member_tabs import MemberAction, MemberTab, other_apps_actions
from loyalty.models import Member, MemberAttribute
from loyalty.resources import MemberResource
from loyalty.services import members

ADJUST_POINTS_PERMISSION = "loyalty.adjust_points"
ANONYMISE_PERMISSION = "loyalty.anonymise_member"
EXPORT_PERMISSION = "loyalty.export_member"


# The member page's own actions (name, button, permission); an erased member has none.
OWN_ACTIONS = (
    ("adjust_points", "Adjust points…", ADJUST_POINTS_PERMISSION),
    ("anonymise", "Erase personal data…", ANONYMISE_PERMISSION),
)


def _page_action(title: str, name: str, permission: str) -> MemberAction:
    return MemberAction(
        title,
        lambda member: reverse("admin:loyalty_member_act", args=[member.pk, name]),
        permission,
        lambda member: not members.member_is_anonymised(member=member),
    )


class AttributesField(forms.JSONField):
    """The member's CRM attributes as JSON, blank when there are none (not ``{}``)."""

    def prepare_value(self, value: Any) -> str:
        if value in (None, {}, "{}"):
            return ""
        return super().prepare_value(value)

    def clean(self, value: Any) -> Any:
        cleaned = super().clean(value)
        return {} if cleaned is None else cleaned


class MemberForm(forms.ModelForm):
    attributes = AttributesField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text='The custom fields the merchant keeps, as JSON: {"shoe_size": 42}. '
        "Blank when there are none.",
    )

    class Meta:
        model = Member
        fields = ["attributes"]  # the admin adds the fields of its fieldsets


class AdjustPointsForm(forms.Form):
    points = forms.IntegerField(
        min_value=-members.ADJUST_POINTS_MAX,
        max_value=members.ADJUST_POINTS_MAX,
        help_text="Positive to credit, negative to debit.",
    )
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))

    def clean_points(self) -> int:
        if self.cleaned_data["points"] == 0:
            raise forms.ValidationError("Give a non-zero number of points.")
        return self.cleaned_data["points"]


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(label="Yes, erase this personal data", required=True)


@admin.register(Member)
class MemberAdmin(RelatedRecordsAdmin, ConfirmActions, StaffImportExportAdmin):
    related = (
        Related("Ledger", "loyalty.ledgerentry", "member"),
        Related("Orders", "loyalty.order", "member"),
        Related("Redemptions", "fulfillment.redemption", "member"),
        Related("Tickets", "customercare.ticket", "member"),
        Related("Achievements", "loyalty.achievementcompletion", "member"),
        Related("Referrals made", "loyalty.referral", "advocate"),
        Related("Referred by", "loyalty.referral", "friend"),
        Related("Messages", "loyalty.membermessage", "member"),
    )

    class Media:
        css = {"all": ["loyalty/admin.css"]}

    form = MemberForm
    resource_classes = [MemberResource]
    formats = [base_formats.CSV, base_formats.XLSX]
    list_display = [
        "external_id",
        "merchant_link",
        "name",
        "email_shown",
        "status_label",
        "tier",
        "balance",
        "pending",
        "shortfall",
    ]
    list_filter = [
        "status",
        ("merchant", RecordFilter),
        "country",
        "has_refund_shortfall",
        "merchant__status",
    ]
    paginator = InfinitePaginator
    merchant_link = link_column("merchant", description="Merchant")
    status_label = state_column(
        "status",
        tones={"active": "success", "blocked": "danger", "anonymised": ""},
        description="Status",
    )
    balance = points_column("points_balance", description="Spendable")
    pending = points_column("pending_points", description="Pending")
    shortfall = yes_no_column(
        "has_refund_shortfall",
        description="Refund shortfall",
        yes="Shortfall",
        no="",
        yes_tone="warning",
    )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A member ends by erasure (the anonymise action): their ledger stays, for the
        # merchant's books and the invoices.
        return False

    @admin.display(description="Name", ordering="last_name")
    def name(self, member: Member) -> str:
        return truncated(member.full_name)

    @admin.display(description="Email", ordering="email")
    def email_shown(self, member: Member) -> str:
        return truncated(member.email)

    # The search box shows for these; what it matches is member_search_results (starts of
    # fields, each an index range at a million members).
    search_fields = ["external_id", "email", "last_name", "merchant__slug"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        return member_search_results(queryset, search_term)

    list_select_related = ["merchant", "tier"]
    autocomplete_fields = ["merchant"]
    show_full_result_count = False
    list_per_page = 50
    # Balances and the tier are in the page's summary (``member_page.summary``).
    readonly_fields = ["status", "last_activity_at", "anonymised_at", "created_at"]
    fieldsets = [
        (None, {"fields": ["merchant", "external_id", "status", "last_activity_at"]}),
        (
            "Profile",
            {
                "fields": [
                    ("first_name", "last_name"),
                    ("email", "phone"),
                    ("country", "locale"),
                    "birthday",
                    "marketing_consent",
                    "attributes",
                ]
            },
        ),
        ("Record", {"fields": ["created_at", "anonymised_at"], "classes": ["collapse"]}),
    ]
    # The add page and the import keep the plain form; an existing member's page is the
    # unified customer view (``member_page``): a summary, the agent's actions, and tabs.
    change_form_template = "admin/loyalty/member/change_form.html"
    change_form_before_template = "admin/loyalty/member/_summary.html"
    actions = ["adjust_points", "anonymise"]
    page_actions = {
        "adjust_points": ADJUST_POINTS_PERMISSION,
        "anonymise": ANONYMISE_PERMISSION,
    }

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["merchant", "external_id"]
        return fields

    # -- the member page ------------------------------------------------------------------

    def _open_tab(self, request: HttpRequest) -> MemberTab | None:
        """The tab asked for (``?tab=``) when this user may open it; None: the profile."""
        key = request.GET.get("tab", "")
        return next((tab for tab in member_page.member_tabs(request) if tab.key == key), None)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None):
        if obj is not None and self._open_tab(request) is not None:
            return []  # another tab than the profile: its table replaces the form
        return super().get_fieldsets(request, obj)

    def get_urls(self) -> list:
        return [*self.page_action_urls(), *super().get_urls()]

    def _actions_for(self, request: HttpRequest, member: Member) -> list[tuple[str, str]]:
        own = [_page_action(title, name, permission) for name, title, permission in OWN_ACTIONS]
        return [
            (action.url(member), action.title)
            for action in [*other_apps_actions(), *own]
            if request.user.has_perm(action.permission) and action.applies(member)
        ]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None and change:
            context.update(self._member_page(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _member_page(self, request: HttpRequest, member: Member) -> dict[str, Any]:
        """The summary, the tabs, the agent's actions and the open tab's table."""
        open_tab = self._open_tab(request)
        page = reverse("admin:loyalty_member_change", args=[member.pk])
        extra: dict[str, Any] = {
            **member_page.summary(member),
            "member_tabs": [
                (page, "Profile", open_tab is None),
                *(
                    (
                        f"{page}?tab={tab.key}",
                        tab.title,
                        open_tab is not None and tab.key == open_tab.key,
                    )
                    for tab in member_page.member_tabs(request)
                ),
            ],
            "staff_actions": self._actions_for(request, member),
        }
        if open_tab is not None:
            extra.update(NO_SAVE_BUTTONS)
            extra["tab_title"] = open_tab.title
            extra["tab_html"] = render_to_string(
                open_tab.template,
                {"member": member, **open_tab.context(request, member)},
                request=request,
            )
        return extra

    def has_adjust_points_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ADJUST_POINTS_PERMISSION)

    def has_anonymise_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ANONYMISE_PERMISSION)

    def has_export_permission(self, request: HttpRequest) -> bool:
        # Every merchant's members' personal data, not only what the list shows.
        return request.user.has_perm(EXPORT_PERMISSION)

    @admin.action(description="Adjust points…", permissions=["adjust_points"])
    def adjust_points(self, request: HttpRequest, queryset: QuerySet):
        return self.confirm_then_apply(
            request,
            queryset.select_related("merchant"),
            form=self.confirm_form(AdjustPointsForm, request),
            title="Adjust points",
            action="adjust_points",
            call=lambda member, data: members.member_adjust_points(
                merchant=member.merchant,
                member=member,
                points=data["points"],
                reason=data["reason"],
                actor=Actor.staff(request.user),
            ),
            done=lambda entry: f"{entry.points:+d} points, balance {entry.balance_after}.",
        )

    @admin.action(description="Anonymise (erase personal data)…", permissions=["anonymise"])
    def anonymise(self, request: HttpRequest, queryset: QuerySet):
        return self.confirm_then_apply(
            request,
            queryset,
            form=self.confirm_form(ConfirmForm, request),
            title="Erase the personal data of these members (the ledger stays)",
            action="anonymise",
            call=lambda member, data: members.member_anonymise(
                merchant=member.merchant, member=member
            ),
            summary=lambda count: f"{count} member(s) anonymised.",
            apply_to=(
                member
                for member in queryset.select_related("merchant")
                if not members.member_is_anonymised(member=member)
            ),
        )


@admin.register(MemberAttribute)
class MemberAttributeAdmin(ModelAdmin):
    """A merchant's CRM attribute schema: what stores may send in members' attributes."""

    list_display = ["label", "name", "merchant", "type", "choice_list", "is_personal"]
    list_filter = ["type", "is_personal"]
    search_fields = ["name", "label", "merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant"]
    fields = ["merchant", "name", "label", "type", "choices", "is_personal"]
    show_full_result_count = False

    @admin.display(description="Choices")
    def choice_list(self, obj: MemberAttribute) -> str:
        return ", ".join(obj.choices or []) or "—"
