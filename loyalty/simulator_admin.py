"""The earning simulator on a program's admin page: staff type an order (for an existing
member, or a hypothetical one with a tier and segments) and see what it would earn now,
part by part, and why each rule or campaign that would not apply would not. Writes
nothing (``services.simulator.order_simulate``, as ``POST /api/v1/orders/simulate/``)."""

import datetime
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from core.exceptions import DomainError
from loyalty.campaigns.admin import wall_time_exists
from loyalty.external_ids import is_external_id
from loyalty.models import Program, Segment
from loyalty.services import orders, simulator
from merchants.models import Store

SIMULATE_PERMISSION = "loyalty.simulate_order"
MAX_LINES = 200


class SimulateForm(forms.Form):
    member = forms.CharField(
        max_length=128,
        help_text="An existing member's external id, or a new one for a hypothetical member.",
    )
    tier = forms.ChoiceField(
        required=False, label="Assume tier", help_text="Hypothetical member only."
    )
    segments = forms.ModelMultipleChoiceField(
        queryset=Segment.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Assume segments",
        help_text="Hypothetical member only.",
    )
    total = forms.DecimalField(max_digits=14, decimal_places=4, min_value=0)
    currency = forms.CharField(max_length=3, min_length=3)
    placed_at = forms.DateTimeField(help_text="In the merchant's time zone.")
    store = forms.ModelChoiceField(queryset=Store.objects.none(), required=False)
    lines = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="One per row: SKU, category, quantity, unit price (TENT-2P, camping, 1, 120).",
    )

    def __init__(self, *args, program: Program, **kwargs):
        super().__init__(*args, **kwargs)
        self.program = program
        self.fields["tier"].choices = [("", "No tier")] + [
            (tier.name, tier.name) for tier in program.tiers.order_by("threshold")
        ]
        self.fields["segments"].queryset = Segment.objects.filter(merchant=program.merchant)
        self.fields["store"].queryset = Store.objects.filter(merchant=program.merchant)

    def clean_member(self) -> str:
        value = self.cleaned_data["member"].strip()
        if not is_external_id(value):
            raise forms.ValidationError("Use 1 to 128 letters, digits or . _ : @ + = -")
        return value

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].upper()

    def clean_placed_at(self) -> datetime.datetime:
        tz = self.program.merchant.timezone
        wall = timezone.localtime(self.cleaned_data["placed_at"]).replace(tzinfo=None)
        if not wall_time_exists(wall, tz):
            raise forms.ValidationError(
                f"Clocks change at that time in {tz.key}: it happens twice or not at all."
            )
        return timezone.make_aware(wall, tz)

    def clean_lines(self) -> tuple[orders.LineInput, ...]:
        rows = [row for row in self.cleaned_data["lines"].splitlines() if row.strip()]
        if len(rows) > MAX_LINES:
            raise forms.ValidationError(f"At most {MAX_LINES} lines.")
        lines = []
        for number, row in enumerate(rows, start=1):
            parts = [part.strip() for part in row.split(",")]
            try:
                sku, category, quantity, price = parts
                line = orders.LineInput(sku, category, int(quantity), Decimal(price))
            except (ValueError, InvalidOperation):
                raise forms.ValidationError(
                    f"Line {number}: write SKU, category, quantity, unit price."
                ) from None
            if not line.unit_price.is_finite() or line.quantity < 1 or line.unit_price < 0:
                raise forms.ValidationError(f"Line {number}: a positive quantity and price.")
            lines.append(line)
        return tuple(lines)


def simulate_view(model_admin, request: HttpRequest, program: Program) -> HttpResponse:
    if not request.user.has_perm(SIMULATE_PERMISSION):
        raise PermissionDenied
    tz = program.merchant.timezone
    initial = {
        "currency": program.currency,
        "placed_at": timezone.localtime(timezone.now(), tz).replace(tzinfo=None, microsecond=0),
    }
    form = SimulateForm(request.POST or None, program=program, initial=initial)
    simulation = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        assumed = None
        if data["tier"] or data["segments"]:
            assumed = simulator.Assumed(
                tier_name=data["tier"] or None,
                segment_ids=tuple(segment.pk for segment in data["segments"]),
            )
        try:
            simulation = simulator.order_simulate(
                merchant=program.merchant,
                data=orders.OrderInput(
                    external_id="",
                    member_external_id=data["member"],
                    total=data["total"],
                    currency=data["currency"],
                    placed_at=data["placed_at"],
                    lines=data["lines"],
                    store_public_id=str(data["store"].public_id) if data["store"] else None,
                ),
                assumed=assumed,
            )
        except DomainError as error:
            field = (error.field or "").split(".")[-1]
            form.add_error(field if field in form.fields else None, error.detail)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Simulate an order: {program.name}",
        "program": program,
        "form": form,
        "simulation": simulation,
        "tz": tz,
    }
    return TemplateResponse(request, "admin/loyalty/program/simulate.html", context)
