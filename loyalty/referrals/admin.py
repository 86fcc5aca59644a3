"""Admin for referrals: every merchant's referrals with their status, reasons and dates,
filtered by status, merchant, the check that fired and the dates; the review queue (the
flagged ones, oldest first) with approve and reject, each asking why and calling the
services; and each program's referral terms."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin

from core.actors import Actor
from core.admin.actions import ConfirmActions
from core.admin.display import link_column, money_column, points_column, yes_no_column
from core.admin.forms import reason_form
from core.admin.readonly import ReadOnlyInline
from loyalty.models import (
    FlaggedReferral,
    Program,
    Referral,
    ReferralEvent,
    ReferralStatus,
    ReferralTerms,
)
from loyalty.referrals import services

REVIEW_PERMISSION = "loyalty.review_referral"
# The checks a referral can be flagged or blocked by, as the filter offers them.
REASONS = [
    ("self_referral", "The friend is the advocate"),
    ("same_email", "Same mailbox"),
    ("same_phone", "Same phone number"),
    ("not_a_new_customer", "Had ordered before"),
    ("same_address", "Same postal address"),
    ("same_ip", "Same IP address"),
    ("same_device", "Same device"),
    ("too_many_referrals", "Over the weekly limit"),
]
ReviewForm = reason_form("the referral's")


class ReasonFilter(admin.SimpleListFilter):
    title = "check that fired"
    parameter_name = "reason"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return REASONS

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value not in dict(REASONS):
            return queryset
        # The reasons are a JSON list of objects: their text holds the code in quotes.
        return queryset.filter(reasons__icontains=f'"{value}"')


class ReferralEventInline(ReadOnlyInline):
    model = ReferralEvent
    fields = ["created_at", "move", "reason", "actor_label"]
    readonly_fields = fields
    verbose_name = "Status change"
    verbose_name_plural = "Status history"

    @admin.display(description="Move")
    def move(self, event: ReferralEvent) -> str:
        labels = dict(ReferralStatus.choices)
        to = labels.get(event.to_status, event.to_status)
        return f"{labels[event.from_status]} → {to}" if event.from_status else f"Made as {to}"

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        # The history is part of the referral: whoever reads the referral reads it.
        return request.user.has_perm("loyalty.view_referral")


@admin.register(Referral)
class ReferralAdmin(ConfirmActions, ModelAdmin):
    list_display = [
        "id",
        "merchant",
        "advocate_link",
        "friend_link",
        "status",
        "reasons_text",
        "created_at",
        "qualifies_at",
        "decided_at",
    ]
    list_filter = [
        "status",
        ReasonFilter,
        ("merchant", admin.RelatedOnlyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
        ("decided_at", admin.DateFieldListFilter),
    ]
    search_fields = ["code", "advocate__external_id", "friend__external_id", "merchant__slug"]
    list_select_related = ["merchant", "advocate", "friend"]
    show_full_result_count = False
    list_per_page = 50
    date_hierarchy = "created_at"
    fields = [
        "merchant",
        "code",
        "advocate_link",
        "friend_link",
        "status",
        "reasons_text",
        "client_ip",
        "device_id",
        "first_order_link",
        "qualifies_at",
        "decided_at",
        "points_text",
        "created_at",
    ]
    readonly_fields = fields
    inlines = [ReferralEventInline]
    actions = ["approve", "reject"]

    # -- rights: the services write, people review ----------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REVIEW_PERMISSION)

    # -- the review queue ---------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Referral]:
        # All at once: Django adds ``list_select_related`` only to a queryset without any.
        return (
            super()
            .get_queryset(request)
            .select_related(*self.list_select_related, "advocate_entry", "friend_entry")
        )

    def get_ordering(self, request: HttpRequest) -> list[str]:
        return ["-created_at", "-id"]

    # -- columns ------------------------------------------------------------------------

    def _member_link(self, member) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:loyalty_member_change", args=[member.pk]),
            member.external_id,
        )

    @admin.display(description="Advocate", ordering="advocate__external_id")
    def advocate_link(self, referral: Referral) -> str:
        return self._member_link(referral.advocate)

    @admin.display(description="Friend", ordering="friend__external_id")
    def friend_link(self, referral: Referral) -> str:
        return self._member_link(referral.friend)

    @admin.display(description="First order")
    def first_order_link(self, referral: Referral) -> str:
        if referral.first_order_id is None:
            return "Not yet"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:loyalty_order_change", args=[referral.first_order_id]),
            referral.first_order,
        )

    @admin.display(description="Reasons")
    def reasons_text(self, referral: Referral) -> str:
        if not referral.reasons:
            return "—"
        return format_html_join(
            " ",
            "{} ({})",
            (
                (reason.get("words", ""), "blocks" if reason.get("blocks") else "flags")
                for reason in referral.reasons
            ),
        )

    @admin.display(description="Points given")
    def points_text(self, referral: Referral) -> str:
        advocate = referral.advocate_entry.points if referral.advocate_entry else 0
        friend = referral.friend_entry.points if referral.friend_entry else 0
        if referral.status != ReferralStatus.QUALIFIED:
            return "None yet" if referral.status == ReferralStatus.PENDING else "None"
        return f"{advocate:,} to the advocate, {friend:,} to the friend"

    # -- review actions -------------------------------------------------------------------

    def _review(self, request: HttpRequest, queryset: QuerySet, *, approve: bool):
        service = services.referral_approve if approve else services.referral_reject
        flagged = [
            referral
            for referral in queryset.select_related("merchant")
            if services.referral_may_review(referral=referral)
        ]
        return self.confirm_then_apply(
            request,
            queryset,
            form=self.confirm_form(ReviewForm, request),
            title="Approve these flagged referrals"
            if approve
            else "Reject these flagged referrals (they never earn)",
            action="approve" if approve else "reject",
            call=lambda referral, data: service(
                merchant=referral.merchant,
                referral=referral,
                reason=data["reason"],
                actor=Actor.staff(request.user),
            ),
            label=lambda referral: f"Referral {referral.pk}",
            summary=lambda count: (
                f"{count} referral(s) {'approved' if approve else 'rejected'}; "
                f"{len(flagged) - count} not."
                if flagged
                else "None of these referrals is waiting for a review."
            ),
            apply_to=flagged,
        )

    @admin.action(description="Approve (flagged only)…", permissions=["review"])
    def approve(self, request: HttpRequest, queryset: QuerySet):
        return self._review(request, queryset, approve=True)

    @admin.action(description="Reject with a reason (flagged only)…", permissions=["review"])
    def reject(self, request: HttpRequest, queryset: QuerySet):
        return self._review(request, queryset, approve=False)


@admin.register(FlaggedReferral)
class ReviewQueueAdmin(ReferralAdmin):
    """The flagged referrals, who waited longest first. Whoever reads referrals reads the
    queue; approving and rejecting need the review right."""

    # All flagged and undecided: the status and the decision dates say nothing here.
    list_display = ["id", "merchant", "advocate_link", "friend_link", "reasons_text", "created_at"]
    list_filter = [
        ReasonFilter,
        ("merchant", admin.RelatedOnlyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    ]
    date_hierarchy = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Referral]:
        return super().get_queryset(request).filter(status=ReferralStatus.FLAGGED)

    def get_ordering(self, request: HttpRequest) -> list[str]:
        return ["created_at", "id"]

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("loyalty.view_referral")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("loyalty.view_referral")


@admin.register(ReferralTerms)
class ReferralTermsAdmin(ModelAdmin):
    list_display = [
        "program",
        "merchant_link",
        "enabled",
        "advocate",
        "friend",
        "minimum",
        "pending_days",
        "weekly_limit",
    ]
    merchant_link = link_column(
        "program__merchant", description="Merchant", ordering="program__merchant__name"
    )
    enabled = yes_no_column(
        "is_enabled", description="Referrals", yes="On", no="Off", yes_tone="success"
    )
    advocate = points_column("advocate_points", description="Advocate gets")
    friend = points_column("friend_points", description="Friend gets")
    minimum = money_column(
        "min_order_total", currency="program__currency", description="Minimum order"
    )
    list_filter = ["is_enabled"]
    list_select_related = ["program__merchant"]
    search_fields = ["program__name", "program__merchant__name", "program__merchant__slug"]
    autocomplete_fields = ["program"]
    fields = [
        "program",
        "is_enabled",
        ("advocate_points", "friend_points"),
        "min_order_total",
        ("pending_days", "weekly_limit"),
        "landing_url",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return ["program"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # turned off with is_enabled; the referrals made under them stay

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "program":
            kwargs["queryset"] = Program.objects.select_related("merchant")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ReferralTerms, form, change: bool) -> None:
        services.referral_terms_save(terms=obj, actor=Actor.staff(request.user))
