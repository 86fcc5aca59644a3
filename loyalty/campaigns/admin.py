"""Admin for campaigns: the list with status, live spend and reach; the campaign page
(terms in the merchant's time zone, targets, effect, budget and caps, the coupon pool,
status moves with a reason and their history); and the report with the control-group
comparison, as a page and as CSV."""

import datetime
import zoneinfo
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from core.actors import Actor
from core.admin.forms import NameListField
from core.admin.readonly import ReadOnlyInline
from core.admin.rights import require_page_action
from core.exceptions import DomainError, InvalidTransition
from loyalty.campaigns import report as reports
from loyalty.campaigns import services
from loyalty.models import (
    CAMPAIGN_TRANSITIONS,
    Campaign,
    CampaignEffect,
    CampaignEvent,
    CampaignStatus,
    Program,
    Segment,
)

MINUS = "\N{MINUS SIGN}"
TRANSITION_PERMISSION = "loyalty.transition_campaign"
EXPORT_PERMISSION = "loyalty.export_campaign"

# What the move to each status is called on its button.
MOVES = {
    CampaignStatus.SCHEDULED: "Schedule",
    CampaignStatus.RUNNING: "Start now",
    CampaignStatus.PAUSED: "Pause",
    CampaignStatus.DRAFT: "Back to draft",
    CampaignStatus.ENDED: "End",
}


def wall_time_exists(wall: datetime.datetime, tz: zoneinfo.ZoneInfo) -> bool:
    """Whether a naive wall-clock time happens exactly once in ``tz`` (not skipped or
    repeated by a clock change)."""
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        return False
    return first.astimezone(datetime.UTC).astimezone(tz).replace(tzinfo=None) == wall


def _local(value: datetime.datetime, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    """An aware time as the merchant's wall clock (naive: the form shows it as typed)."""
    return timezone.localtime(value, tz).replace(tzinfo=None)


class CampaignForm(forms.ModelForm):
    segments = forms.ModelMultipleChoiceField(
        queryset=Segment.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Members of any of these segments; none ticked: every member.",
    )
    include_skus = NameListField(
        required=False,
        label="Only these SKUs",
        help_text="Comma separated, e.g. TENT-2P, STOVE-1; empty: every line.",
    )
    include_categories = NameListField(
        required=False,
        label="Only these categories",
        help_text="Comma separated, e.g. camping, kitchen; empty: every line.",
    )
    add_codes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        label="Add coupon codes",
        help_text="One per line; codes already in the pool are skipped.",
    )

    class Meta:
        model = Campaign
        fields = [
            "program",
            "name",
            "description",
            "segments",
            "holdout_percent",
            "starts_at",
            "ends_at",
            "priority",
            "stacking",
            "effect",
            "multiplier",
            "points_per_unit",
            "bonus_points",
            "min_order_total",
            "activity_kind",
            "include_skus",
            "include_categories",
            "points_budget",
            "cap_period",
            "cap_count",
        ]
        help_texts = {
            "starts_at": "In the merchant's time zone.",
            "ends_at": "In the merchant's time zone; the campaign ends by itself then.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("starts_at", "ends_at"):
            widget = self.fields[name].widget if name in self.fields else None
            for part, words in zip(getattr(widget, "widgets", ()), ("date", "time"), strict=False):
                part.attrs["aria-label"] = f"{self.fields[name].label}, {words}"
        program = self.instance.program if self.instance.program_id else None
        if "segments" in self.fields:
            self.fields["segments"].queryset = (
                Segment.objects.filter(merchant_id=program.merchant_id, is_active=True)
                if program
                else Segment.objects.select_related("merchant").filter(is_active=True)
            )
            if not program:
                self.fields["segments"].label_from_instance = lambda s: f"{s.name} ({s.merchant})"
            if self.instance.pk:
                self.initial["segments"] = list(self.instance.segments.all())
        if program is not None:
            tz = program.merchant.timezone
            for name in ("starts_at", "ends_at"):
                value = getattr(self.instance, name)
                if value is not None and name in self.fields:
                    self.initial[name] = _local(value, tz)
                    self.fields[name].help_text += f" ({program.merchant.timezone.key})"
        if "program" in self.fields:
            self.fields["program"].queryset = Program.objects.select_related("merchant").filter(
                is_active=True
            )

    def clean_add_codes(self) -> list[str]:
        codes = [code.strip() for code in self.cleaned_data.get("add_codes", "").splitlines()]
        try:
            return services.coupon_codes_check(codes)
        except DomainError as error:
            raise forms.ValidationError(str(error)) from None

    def clean(self) -> dict:
        data = super().clean()
        program = data.get("program") or (
            self.instance.program if self.instance.program_id else None
        )
        if program is None:
            return data
        tz = program.merchant.timezone
        for name in ("starts_at", "ends_at"):
            value = data.get(name)
            if value is not None:
                # Typed as the merchant's wall clock, whatever zone the admin runs in.
                wall = timezone.localtime(value).replace(tzinfo=None)
                if not wall_time_exists(wall, tz):
                    self.add_error(
                        name,
                        f"Clocks change at that time in {tz.key}: it happens twice or not at "
                        "all. Pick another time.",
                    )
                    continue
                data[name] = timezone.make_aware(wall, tz)
                setattr(self.instance, name, data[name])
        segments = data.get("segments") or []
        if any(segment.merchant_id != program.merchant_id for segment in segments):
            self.add_error("segments", "Target only this merchant's segments.")
        if data.get("add_codes") and data.get("effect") != CampaignEffect.COUPON:
            self.add_error("add_codes", "Only a coupon campaign has a code pool.")
        return data

    def _post_clean(self) -> None:
        super()._post_clean()
        try:
            services.campaign_clean(self.instance)
        except ValidationError as error:
            for field, messages_ in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages_)


class MoveForm(forms.Form):
    reason = forms.CharField(
        max_length=300, widget=forms.TextInput(attrs={"size": 50}), help_text="Kept with the move."
    )


class CampaignEventInline(ReadOnlyInline):
    model = CampaignEvent
    fields = ["when", "move", "reason", "by"]
    readonly_fields = fields
    verbose_name = "Status change"
    verbose_name_plural = "Status history"

    @admin.display(description="When (UTC)")
    def when(self, event: CampaignEvent) -> str:
        return f"{event.at:%Y-%m-%d %H:%M}"

    @admin.display(description="By")
    def by(self, event: CampaignEvent) -> str:
        return event.actor_label

    @admin.display(description="Move")
    def move(self, event: CampaignEvent) -> str:
        labels = dict(CampaignStatus.choices)
        to = labels.get(event.to_status, event.to_status)
        return f"{labels[event.from_status]} → {to}" if event.from_status else f"Created as {to}"

    def has_view_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        # The history is part of the campaign: whoever reads the campaign reads it.
        return request.user.has_perm("loyalty.view_campaign") or request.user.has_perm(
            "loyalty.change_campaign"
        )


@admin.register(Campaign)
class CampaignAdmin(ModelAdmin):
    form = CampaignForm
    change_form_template = "admin/loyalty/campaign/change_form.html"
    list_display = [
        "name",
        "merchant",
        "status_badge",
        "effect_text",
        "window",
        "targets",
        "spend_text",
        "reached",
    ]
    list_filter = ["status", "effect", "stacking"]
    search_fields = ["name", "program__merchant__name", "program__merchant__slug"]
    list_select_related = ["program__merchant", "spend"]
    show_full_result_count = False
    autocomplete_fields = ["program"]
    page_actions = {status: TRANSITION_PERMISSION for status in MOVES}
    inlines = [CampaignEventInline]
    readonly_fields = ["status_badge", "spend_text", "coupon_pool"]
    fieldsets = [
        (None, {"fields": ["program", "name", "description", "status_badge"]}),
        ("Who", {"fields": ["segments", "holdout_percent"]}),
        ("When", {"fields": ["starts_at", "ends_at", ("priority", "stacking")]}),
        (
            "What it gives",
            {
                "fields": [
                    "effect",
                    ("multiplier", "points_per_unit", "bonus_points"),
                    ("min_order_total", "activity_kind"),
                    ("include_skus", "include_categories"),
                ]
            },
        ),
        (
            "Budget and caps",
            {"fields": ["points_budget", ("cap_period", "cap_count"), "spend_text"]},
        ),
        ("Coupon pool", {"fields": ["coupon_pool", "add_codes"], "classes": ["collapse"]}),
    ]

    class Media:
        css = {"all": ["loyalty/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return (
            super()
            .get_queryset(request)
            .annotate(segment_count=Count("segments", distinct=True))
            .prefetch_related("segments")
        )

    # -- list columns --------------------------------------------------------------------

    @admin.display(description="Merchant", ordering="program__merchant__name")
    def merchant(self, obj: Campaign) -> str:
        return str(obj.program.merchant)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Campaign) -> str:
        if obj.pk is None:
            return "Draft (new)"
        return format_html(
            '<span class="campaign-status campaign-{}">{}</span>',
            obj.status,
            obj.get_status_display(),
        )

    @admin.display(description="Effect")
    def effect_text(self, obj: Campaign) -> str:
        return effect_summary(obj)

    @admin.display(description="Dates (merchant's time)", ordering="starts_at")
    def window(self, obj: Campaign) -> str:
        tz = obj.program.merchant.timezone
        return (
            f"{timezone.localtime(obj.starts_at, tz):%Y-%m-%d %H:%M} to "
            f"{timezone.localtime(obj.ends_at, tz):%Y-%m-%d %H:%M}"
        )

    @admin.display(description="Targets")
    def targets(self, obj: Campaign) -> str:
        names = [segment.name for segment in obj.segments.all()]
        target = ", ".join(names) if names else "Every member"
        if obj.holdout_percent:
            target += f" · control {obj.holdout_percent.normalize():f}%"
        return target

    @admin.display(description="Points given")
    def spend_text(self, obj: Campaign) -> str:
        spend = getattr(obj, "spend", None)
        given = spend.points_given if spend else 0
        if obj.points_budget:
            share = given * 100 / obj.points_budget
            text = f"{given:,} of {obj.points_budget:,} ({share:.0f}%)"
            if spend and spend.exhausted_at:
                text += " · spent"
            return text
        return f"{given:,} (no budget)"

    @admin.display(description="Awards")
    def reached(self, obj: Campaign) -> str:
        spend = getattr(obj, "spend", None)
        return f"{spend.awards:,}" if spend else "0"

    @admin.display(description="Codes")
    def coupon_pool(self, obj: Campaign) -> str:
        if obj.pk is None or obj.effect != CampaignEffect.COUPON:
            return "Only a coupon campaign has codes."
        total = obj.coupons.count()
        handed = obj.coupons.filter(member__isnull=False).count()
        return f"{total:,} codes, {handed:,} handed out, {total - handed:,} free"

    # -- rights --------------------------------------------------------------------------

    def has_change_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        if obj is not None and obj.status == CampaignStatus.ENDED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        if obj is not None and (obj.status != CampaignStatus.DRAFT or obj.awards.exists()):
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("program")
        return fields

    # -- saving --------------------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Campaign, form: CampaignForm, change: bool):
        services.campaign_save(
            campaign=obj, actor=Actor.staff(request.user), segments=form.cleaned_data["segments"]
        )
        codes = form.cleaned_data.get("add_codes")
        if codes:
            added = services.coupon_codes_add(campaign=obj, codes=codes)
            messages.info(request, f"{added} code{'s' if added != 1 else ''} added to the pool.")

    def get_inline_instances(self, request: HttpRequest, obj: Campaign | None = None) -> list:
        # A new campaign has no history yet.
        return super().get_inline_instances(request, obj) if obj is not None else []

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # The segments were set by campaign_save; the events are read-only.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # -- pages ---------------------------------------------------------------------------

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/move/<str:status>/", view(self.move_view), name="loyalty_campaign_move"),
            path("<int:pk>/report/", view(self.report_view), name="loyalty_campaign_report"),
            path("<int:pk>/report.csv", view(self.report_csv), name="loyalty_campaign_report_csv"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self.get_object(request, object_id)
        moves = []
        if campaign is not None and request.user.has_perm(TRANSITION_PERMISSION):
            moves = [
                (status, MOVES[status])
                for status in CAMPAIGN_TRANSITIONS.get(campaign.status, ())
                if not (
                    status == CampaignStatus.RUNNING and campaign.status == CampaignStatus.PAUSED
                )
            ]
            if campaign.status == CampaignStatus.PAUSED:
                moves.insert(0, (CampaignStatus.RUNNING, "Resume"))
        extra = {**(extra_context or {}), "moves": moves, "campaign": campaign}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _campaign(self, request: HttpRequest, pk: int) -> Campaign:
        campaign = get_object_or_404(
            Campaign.objects.select_related("program__merchant", "spend"), pk=pk
        )
        if not self.has_view_or_change_permission(request, campaign):
            raise PermissionDenied
        return campaign

    def move_view(self, request: HttpRequest, pk: int, status: str) -> HttpResponse:
        campaign = self._campaign(request, pk)
        require_page_action(self.page_actions, request, status)
        label = MOVES[status]
        if status == CampaignStatus.RUNNING and campaign.status == CampaignStatus.PAUSED:
            label = "Resume"
        form = MoveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.campaign_transition(
                    campaign=campaign,
                    to_status=status,
                    reason=form.cleaned_data["reason"],
                    actor=Actor.staff(request.user),
                )
            except InvalidTransition as error:
                messages.error(request, str(error))
            else:
                messages.success(request, f"{campaign.name}: {campaign.get_status_display()}.")
            return HttpResponseRedirect(reverse("admin:loyalty_campaign_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{label}: {campaign.name}",
            "campaign": campaign,
            "form": form,
            "label": label,
        }
        return TemplateResponse(request, "admin/loyalty/campaign/move.html", context)

    def report_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self._campaign(request, pk)
        report = reports.campaign_report(campaign=campaign)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Report: {campaign.name}",
            "campaign": campaign,
            "report": report,
            "tz": campaign.program.merchant.timezone,
            "currency": campaign.program.currency,
            "may_export": request.user.has_perm(EXPORT_PERMISSION),
            "effect": effect_summary(campaign),
            **report_display(report),
        }
        return TemplateResponse(request, "admin/loyalty/campaign/report.html", context)

    def report_csv(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self._campaign(request, pk)
        if not request.user.has_perm(EXPORT_PERMISSION):
            raise PermissionDenied
        body = reports.report_csv(reports.campaign_report(campaign=campaign))
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="campaign-{campaign.pk}-report.csv"'
        )
        return response


def _number(value: float, places: int = 2) -> str:
    return f"{value:,.{places}f}"


def _signed(value: float, places: int = 2) -> str:
    return f"{value:+,.{places}f}".replace("-", MINUS)


def report_display(report: reports.CampaignReport) -> dict:
    """The report's figures as the page shows them."""
    currency = report.campaign.program.currency
    budget = (
        f"{report.points_given:,} of {report.budget:,} ({report.budget_used:.0%})"
        if report.budget
        else f"{report.points_given:,} (no budget)"
    )
    cards = [
        ("Members targeted", f"{report.targeted:,}"),
        ("Members reached", f"{report.reached:,}"),
        ("Points given", budget),
        ("Orders influenced", f"{report.orders_influenced:,}"),
        ("Revenue influenced", f"{report.revenue_influenced:,.2f} {currency}"),
        ("Value of the points given", f"{report.points_cost:,.2f} {currency}"),
    ]
    rows = []
    for item in report.lifts:
        places = 3 if item.metric != "Revenue per member" else 2
        percent = item.metric == "Redemption rate"

        def show(value: float, signed: bool = False, places: int = places, percent: bool = percent):
            if percent:
                text = f"{value * 100:+.1f}" if signed else f"{value * 100:.1f}"
                return text.replace("-", MINUS) + " pts" if signed else text + "%"
            return _signed(value, places) if signed else _number(value, places)

        relative = item.relative
        rows.append(
            {
                "metric": item.metric,
                "treated": show(item.treated),
                "control": show(item.control),
                "lift": show(item.difference, signed=True),
                "relative": f"{relative:+.1%}".replace("-", MINUS)
                if relative is not None
                else "n/a",
                "interval": f"{show(item.low, signed=True)} to {show(item.high, signed=True)}",
                "significant": item.significant,
            }
        )
    verdict = None
    if report.incremental_revenue is not None:
        verdict = {
            "incremental": f"{report.incremental_revenue:,.2f} {currency}".replace("-", MINUS),
            "cost": f"{report.points_cost:,.2f} {currency}",
            "paid": report.paid_for_itself,
            "significant": report.lifts[1].significant,
        }
    return {"cards": cards, "rows": rows, "verdict": verdict}


def effect_summary(campaign: Campaign) -> str:
    """The effect in a few words: "x2 base points on camping", "+100 points from 50"."""
    where = ""
    if campaign.include_categories or campaign.include_skus:
        where = " on " + ", ".join([*campaign.include_categories, *campaign.include_skus])
    minimum = (
        f" from {campaign.min_order_total.normalize():f} {campaign.program.currency}"
        if campaign.min_order_total is not None
        else ""
    )
    effect = campaign.effect
    if effect == CampaignEffect.MULTIPLIER and campaign.multiplier:
        return f"x{campaign.multiplier.normalize():f} base points{where}{minimum}"
    if effect == CampaignEffect.PER_UNIT and campaign.points_per_unit:
        return f"+{campaign.points_per_unit.normalize():f} per unit{where}{minimum}"
    if effect == CampaignEffect.ORDER_BONUS and campaign.bonus_points:
        return f"+{campaign.bonus_points:,} points per order{minimum}"
    if effect == CampaignEffect.ACTIVITY_BONUS and campaign.bonus_points:
        return f"+{campaign.bonus_points:,} points per {campaign.activity_kind}"
    if effect == CampaignEffect.UNLOCK_REWARD:
        names = [str(item.reward) for item in campaign.unlocked_items.select_related("reward")[:3]]
        return "Unlocks " + (", ".join(names) if names else "rewards (none chosen yet)")
    if effect == CampaignEffect.COUPON:
        return f"A coupon code per member{minimum}"
    return campaign.get_effect_display()
