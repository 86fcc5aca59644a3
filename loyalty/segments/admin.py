"""Admin for segments: the list with counts, and one page to build a segment's conditions
as form rows, preview who they match (django-htmx updates the preview in place; without
JavaScript the button reloads the page), save, refresh now, and export the members."""

from dataclasses import asdict

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseFormSet, formset_factory
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from import_export import fields, resources
from unfold.admin import ModelAdmin

from core.actors import Actor
from loyalty.models import Segment, SegmentMembership, Tier
from loyalty.segments import services
from loyalty.segments.builder import Row, definition_rows, definition_text, rows_definition
from loyalty.segments.definition import ATTRIBUTE_OPS, FIELDS, OP_LABELS, InvalidDefinition
from loyalty.selectors import attribute_schema
from merchants.models import Merchant

REFRESH_PERMISSION = "loyalty.refresh_segment"
EXPORT_PERMISSION = "loyalty.export_segment"
HISTORY_ROWS = 50
BLANK_ROWS = 3
CONDITIONS_SHOWN = 60

OPERATORS = sorted(
    {op for spec in FIELDS.values() for op in spec.ops}
    | {op for ops in ATTRIBUTE_OPS.values() for op in ops}
)


class SegmentForm(forms.Form):
    merchant = forms.ModelChoiceField(queryset=Merchant.objects.order_by("name"))
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    is_active = forms.BooleanField(required=False, initial=True, label="Active")


class ConditionForm(forms.Form):
    group = forms.IntegerField(min_value=1, max_value=10, initial=1)
    field = forms.ChoiceField(
        choices=[("", "—")] + [(k, f.label) for k, f in FIELDS.items()], required=False
    )
    attribute = forms.CharField(max_length=40, required=False, help_text="CRM attribute")
    op = forms.ChoiceField(
        choices=[("", "—")] + [(op, OP_LABELS[op]) for op in OPERATORS],
        required=False,
        label="Operator",
    )
    value = forms.CharField(max_length=2000, required=False)
    extra = forms.CharField(max_length=2000, required=False, label="Kinds or categories")
    last_days = forms.IntegerField(min_value=1, max_value=3650, required=False, label="Last N days")
    start = forms.DateField(required=False, label="From")
    end = forms.DateField(required=False, label="To")
    negate = forms.BooleanField(required=False, label="Not")

    def row(self) -> Row | None:
        data = self.cleaned_data
        if not data or not data.get("field") or data.get("DELETE"):
            return None
        return Row(
            group=data.get("group") or 1,
            field=data["field"],
            op=data.get("op") or "",
            value=data.get("value") or "",
            attribute=data.get("attribute") or "",
            extra=data.get("extra") or "",
            last_days=data.get("last_days"),
            start=data["start"].isoformat() if data.get("start") else "",
            end=data["end"].isoformat() if data.get("end") else "",
            negate=bool(data.get("negate")),
        )


class ConditionRows(BaseFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        # The rows are a table: each box is named by its row and its column for readers.
        row = f"Row {index + 1}" if index is not None else "New row"
        for field in form.fields.values():
            field.widget.attrs["aria-label"] = f"{row}: {field.label or 'Delete'}"


ConditionFormSet = formset_factory(
    ConditionForm,
    formset=ConditionRows,
    extra=BLANK_ROWS,
    can_delete=True,
    max_num=100,
    validate_max=True,
)


class SegmentMemberResource(resources.ModelResource):
    """The members in a segment, for a CSV export."""

    external_id = fields.Field(attribute="member__external_id", column_name="external_id")
    email = fields.Field(attribute="member__email", column_name="email")
    first_name = fields.Field(attribute="member__first_name", column_name="first_name")
    last_name = fields.Field(attribute="member__last_name", column_name="last_name")
    country = fields.Field(attribute="member__country", column_name="country")
    tier = fields.Field(attribute="member__tier__name", column_name="tier")
    points_balance = fields.Field(attribute="member__points_balance", column_name="points_balance")
    joined_at = fields.Field(attribute="joined_at", column_name="in_segment_since")

    class Meta:
        model = SegmentMembership
        fields = (
            "external_id",
            "email",
            "first_name",
            "last_name",
            "country",
            "tier",
            "points_balance",
            "joined_at",
        )
        export_order = fields

    def dehydrate_country(self, stay: SegmentMembership) -> str:
        return str(stay.member.country or "")


def _names(merchant: Merchant, segment: Segment | None) -> tuple[dict, dict]:
    tiers = dict(
        Tier.objects.filter(program__merchant=merchant, program__is_active=True).values_list(
            "pk", "name"
        )
    )
    segments = dict(
        Segment.objects.filter(merchant=merchant)
        .exclude(pk=segment.pk if segment else None)
        .values_list("pk", "name")
    )
    return tiers, segments


@admin.register(Segment)
class SegmentAdmin(ModelAdmin):
    list_display = [
        "name",
        "merchant",
        "members",
        "is_active",
        "moves_with_calendar",
        "refreshed",
        "conditions",
    ]
    list_filter = ["is_active", "is_time_relative"]
    search_fields = ["name", "merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]
    show_full_result_count = False
    actions = ["refresh_now"]

    class Media:
        css = {"all": ["loyalty/admin.css"]}

    @admin.display(description="Moves with the calendar", boolean=True, ordering="is_time_relative")
    def moves_with_calendar(self, obj: Segment) -> bool:
        return obj.is_time_relative

    @admin.display(description="Members", ordering="member_count")
    def members(self, obj: Segment) -> str:
        return f"{obj.member_count:,}"

    @admin.display(description="Refreshed", ordering="refreshed_at")
    def refreshed(self, obj: Segment) -> str:
        if obj.refreshed_at is None:
            return "not yet"
        return timezone.localtime(obj.refreshed_at).strftime("%Y-%m-%d %H:%M %Z")

    @admin.display(description="Conditions")
    def conditions(self, obj: Segment) -> str:
        named = {c.get("field") for g in obj.definition.get("groups", []) for c in g["conditions"]}
        tiers, segments = _names(obj.merchant, obj) if named & {"tier", "segment"} else ({}, {})
        lines = definition_text(obj.definition, tiers, segments)
        text = " and ".join(f"({line})" for line in lines) if lines else "Every member"
        if len(text) <= CONDITIONS_SHOWN:
            return text
        return format_html('<span title="{}">{}…</span>', text, text[: CONDITIONS_SHOWN - 1])

    @admin.action(description="Refresh now (every member)", permissions=["refresh"])
    def refresh_now(self, request: HttpRequest, queryset) -> None:
        for segment in queryset:
            result = services.segment_refresh_now(segment=segment)
            self.message_user(
                request, f"{segment.name}: {result.joined} joined, {result.left} left."
            )

    def has_refresh_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REFRESH_PERMISSION)

    def get_urls(self):
        return [
            path(
                "<int:pk>/members.csv",
                self.admin_site.admin_view(self.members_csv),
                name="loyalty_segment_members_csv",
            ),
            *super().get_urls(),
        ]

    # -- the builder page ---------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        return self._builder(request, None)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        segment = Segment.objects.select_related("merchant").filter(pk=object_id).first()
        if segment is None:
            raise Http404("No such segment.")
        if not self.has_view_or_change_permission(request, segment):
            raise PermissionDenied
        return self._builder(request, segment)

    def _builder(self, request: HttpRequest, segment: Segment | None) -> HttpResponse:
        may_change = (
            self.has_change_permission(request, segment)
            if segment
            else self.has_add_permission(request)
        )
        preview = None
        status = 200
        if request.method == "POST" and may_change:
            form = SegmentForm(
                request.POST, initial={"merchant": segment.merchant_id} if segment else None
            )
            rows = ConditionFormSet(request.POST, prefix="c")
            if segment is not None:
                form.fields["merchant"].required = False
            if form.is_valid() and rows.is_valid():
                merchant = segment.merchant if segment else form.cleaned_data["merchant"]
                tiers, others = _names(merchant, segment)
                types = {n: s.type for n, s in attribute_schema(merchant=merchant).items()}
                built = [r for f in rows.forms if (r := f.row()) is not None]
                data, places = rows_definition(
                    built,
                    types,
                    {v: k for k, v in tiers.items()},
                    {v: k for k, v in others.items()},
                )
                try:
                    if "_preview" in request.POST:
                        preview = services.segment_preview(
                            merchant=merchant, data=data, now=timezone.now(), segment=segment
                        )
                    else:
                        target = segment or Segment(merchant=merchant)
                        target.name = form.cleaned_data["name"]
                        target.description = form.cleaned_data["description"]
                        target.is_active = form.cleaned_data["is_active"]
                        target.definition = data
                        saved = services.segment_save(
                            segment=target, actor=Actor.staff(request.user)
                        )
                        if segment is None:
                            self.log_addition(request, saved, "Added.")
                        else:
                            self.log_change(request, saved, "Saved with its conditions.")
                        self.message_user(
                            request,
                            f"Segment “{saved.name}” saved. Its members "
                            "are refreshed by the next run of the job, or now "
                            "with “Refresh now”.",
                            messages.SUCCESS,
                        )
                        return HttpResponseRedirect(
                            reverse("admin:loyalty_segment_change", args=[saved.pk])
                        )
                except InvalidDefinition as error:
                    _row_error(rows, places, error)
                    status = 400
                except ValidationError as error:  # a name taken, say: shown on the form
                    for field, problems in error.message_dict.items():
                        form.add_error(field if field in form.fields else None, problems)
                    status = 400
            else:
                status = 400
            if request.htmx and "_preview" in request.POST:
                return TemplateResponse(
                    request,
                    "admin/loyalty/segment/_preview.html",
                    {"preview": preview, "rows": rows},
                    status=200,
                )
        else:
            initial = {}
            rows_initial = []
            if segment is not None:
                initial = {
                    "merchant": segment.merchant_id,
                    "name": segment.name,
                    "description": segment.description,
                    "is_active": segment.is_active,
                }
                tiers, others = _names(segment.merchant, segment)
                rows_initial = [
                    asdict(row) for row in definition_rows(segment.definition, tiers, others)
                ]
            form = SegmentForm(initial=initial)
            rows = ConditionFormSet(initial=rows_initial, prefix="c")
        if segment is not None:
            form.fields["merchant"].disabled = True
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": segment.name if segment else "Add segment",
            "segment": segment,
            "form": form,
            "rows": rows,
            "preview": preview,
            "may_change": may_change,
            "may_refresh": self.has_refresh_permission(request),
            "may_export": request.user.has_perm(EXPORT_PERMISSION),
            "fields_help": [
                (f.label, ", ".join(OP_LABELS[o] for o in f.ops) or "by its type")
                for f in FIELDS.values()
            ],
            "history": (
                SegmentMembership.objects.filter(segment=segment)
                .select_related("member")
                .order_by("-joined_at", "-id")[:HISTORY_ROWS]
                if segment
                else []
            ),
        }
        return TemplateResponse(
            request, "admin/loyalty/segment/builder.html", context, status=status
        )

    def members_csv(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not (self.has_view_permission(request) and request.user.has_perm(EXPORT_PERMISSION)):
            raise PermissionDenied
        segment = get_object_or_404(Segment, pk=pk)
        stays = (
            SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
            .select_related("member", "member__tier")
            .order_by("member__external_id")
        )
        dataset = SegmentMemberResource().export(queryset=stays)
        response = HttpResponse(dataset.csv, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-members.csv"'
        return response


def _row_error(rows, places: list[tuple[int, int]], error: InvalidDefinition) -> None:
    """The definition's error on the row it names (``definition.groups.G.conditions.C.x``)."""
    parts = (error.field or "").split(".")
    if len(parts) >= 5 and parts[1] == "groups" and parts[3] == "conditions":
        place = (int(parts[2]), int(parts[4]))
        filled = [
            f
            for f in rows.forms
            if f.cleaned_data and f.cleaned_data.get("field") and not f.cleaned_data.get("DELETE")
        ]
        if place in places:
            form = filled[places.index(place)]
            name = parts[5] if len(parts) > 5 else None
            name = {"window": "last_days", "kinds": "extra", "categories": "extra"}.get(name, name)
            form.add_error(name if name in form.fields else None, error.detail.split(": ", 1)[-1])
            return
    rows._non_form_errors = rows.error_class([error.detail])
