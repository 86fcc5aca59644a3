"""Shipments: the list (by status, carrier, country and merchant; searched by tracking
number), a shipment's read-only page with its history, and the two staff actions of a
redemption's page that add tracking and move a shipment along. The actions call the
``fulfillment.services.shipments`` services and need the shipment permissions the
Fulfillment group holds (``add_shipment`` to add tracking, ``change_shipment`` to move
one)."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin

from core.actors import Actor
from core.admin.errors import form_error
from core.admin.filters import queue_filter
from core.exceptions import DomainError
from fulfillment.admin.forms import ShipmentAddForm, ShipmentMoveForm
from fulfillment.models import (
    Redemption,
    RedemptionEvent,
    Shipment,
    SupplierOrder,
    SupplierOrderStatus,
)
from fulfillment.queues import late_shipments
from fulfillment.services import shipments

ADD_PERMISSION = "fulfillment.add_shipment"
MOVE_PERMISSION = "fulfillment.change_shipment"
SHIPMENT_ACTIONS = {"add_tracking": "Add tracking", "move_shipment": "Move a shipment"}
ADDRESS_LINES = ("name", "line1", "line2", "city", "region", "postal_code", "country")


def tracking_link(shipment: Shipment) -> str:
    """The tracking number, linked to the carrier's page when there is one."""
    if shipment.tracking_url.startswith(("https://", "http://")):
        return format_html(
            '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>',
            shipment.tracking_url,
            shipment.tracking_number or shipment.tracking_url,
        )
    return shipment.tracking_number or "-"


def address_text(address: Any) -> str:
    if not isinstance(address, dict):
        return "-"
    return ", ".join(str(address[name]) for name in ADDRESS_LINES if address.get(name)) or "-"


# -- the actions on a redemption ---------------------------------------------------------


class ShipmentActions:
    """Mixed into the redemption admin: its shipment actions, one redemption at a time."""

    def has_add_shipment_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ADD_PERMISSION)

    def has_move_shipment_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(MOVE_PERMISSION)

    def shipment_action_allowed(self, request: HttpRequest, name: str) -> bool:
        if name == "add_tracking":
            return self.has_add_shipment_permission(request)
        return name == "move_shipment" and self.has_move_shipment_permission(request)

    def shipment_links(self, request: HttpRequest, redemption: Redemption) -> list[tuple]:
        """The shipment actions the user may take on this redemption's page: those of a
        redemption that ships (its page lists the shipments, if any, just below)."""
        if not shipments.redemption_ships(redemption):
            return []
        return [
            (reverse("admin:fulfillment_redemption_act", args=[redemption.pk, name]), label)
            for name, label in SHIPMENT_ACTIONS.items()
            if self.shipment_action_allowed(request, name)
        ]

    def _one(self, request: HttpRequest, queryset: QuerySet) -> Redemption | None:
        redemptions = list(queryset[:2])
        if len(redemptions) != 1:
            self.message_user(request, "One redemption at a time.", messages.ERROR)
            return None
        return redemptions[0]

    @admin.action(description="Add tracking (a shipment)…", permissions=["add_shipment"])
    def add_tracking(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        redemption = self._one(request, queryset)
        if redemption is None:
            return None
        form = ShipmentAddForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            data = form.cleaned_data
            try:
                shipments.shipment_add(
                    redemption=redemption,
                    carrier=data["carrier"],
                    tracking_number=data["tracking_number"],
                    tracking_url=data["tracking_url"],
                    status=data["status"],
                    supplier_order=_placed_order(redemption),
                    note=data["note"],
                    actor=Actor.staff(request.user),
                )
            except DomainError as error:
                form_error(form, error)
            else:
                self.message_user(
                    request, f"#{redemption.pk}: shipment recorded.", messages.SUCCESS
                )
                return None
        return self.confirm_page(
            request,
            title=f"Add tracking to redemption #{redemption.pk}",
            form=form,
            objects=queryset,
            action="add_tracking",
        )

    @admin.action(description="Move a shipment…", permissions=["move_shipment"])
    def move_shipment(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        redemption = self._one(request, queryset)
        if redemption is None:
            return None
        if not Shipment.objects.filter(redemption=redemption).exists():
            self.message_user(request, f"#{redemption.pk}: no shipment to move.", messages.ERROR)
            return None
        form = ShipmentMoveForm(
            request.POST if "apply" in request.POST else None, redemption=redemption
        )
        if form.is_valid():
            data = form.cleaned_data
            try:
                shipment = shipments.shipment_move(
                    shipment=data["shipment"],
                    to=data["status"],
                    note=data["note"],
                    actor=Actor.staff(request.user),
                )
            except DomainError as error:
                form_error(form, error)
            else:
                self.message_user(
                    request,
                    f"#{redemption.pk}: shipment #{shipment.pk} is "
                    f"{shipment.get_status_display().lower()}.",
                    messages.SUCCESS,
                )
                return None
        return self.confirm_page(
            request,
            title=f"Move a shipment of redemption #{redemption.pk}",
            form=form,
            objects=queryset,
            action="move_shipment",
        )


def _placed_order(redemption: Redemption) -> SupplierOrder | None:
    """The supplier order the parcel most likely belongs to: the latest one placed."""
    return (
        SupplierOrder.objects.filter(
            redemption=redemption,
            status__in=[SupplierOrderStatus.SUBMITTED, SupplierOrderStatus.DELIVERED],
        )
        .order_by("-attempt")
        .first()
    )


# -- the shipment list -------------------------------------------------------------------


LateFilter = queue_filter(
    title="late",
    parameter_name="late",
    label="Late (not moving for days)",
    rows=lambda shipments: late_shipments(shipments, now=timezone.now()),
)


class ShipmentCountryFilter(admin.SimpleListFilter):
    title = "country"
    parameter_name = "country"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin) -> list[tuple]:
        codes = Shipment.objects.order_by("redemption__country").values_list(
            "redemption__country", flat=True
        )
        return [(code, code) for code in codes.distinct()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = (self.value() or "").upper()
        if len(value) == 2 and value.isalpha():
            return queryset.filter(redemption__country=value)
        return queryset


@admin.register(Shipment)
class ShipmentAdmin(ModelAdmin):
    """Read-only: a shipment moves only through the actions of its redemption's page."""

    list_display = [
        "number",
        "redemption_link",
        "merchant",
        "status",
        "carrier",
        "tracking",
        "country",
        "source",
        "shipped_at",
        "delivered_at",
        "updated_at",
    ]
    list_filter = [
        LateFilter,
        "status",
        "carrier",
        ShipmentCountryFilter,
        ("redemption__merchant", admin.RelatedOnlyFieldListFilter),
        "source",
    ]
    list_select_related = ["redemption__merchant"]
    search_fields = ["=tracking_number"]
    show_full_result_count = False
    fields = [
        "redemption_link",
        "supplier_order",
        "status",
        "carrier",
        "tracking",
        "delivery_address",
        "source",
        "created_at",
        "updated_at",
        "shipped_at",
        "delivered_at",
        "history",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Shipment", ordering="id")
    def number(self, shipment: Shipment) -> str:
        return f"#{shipment.pk}"

    @admin.display(description="Redemption", ordering="redemption_id")
    def redemption_link(self, shipment: Shipment) -> str:
        return format_html(
            '<a href="{}">#{}</a>',
            reverse("admin:fulfillment_redemption_change", args=[shipment.redemption_id]),
            shipment.redemption_id,
        )

    @admin.display(description="Merchant", ordering="redemption__merchant__name")
    def merchant(self, shipment: Shipment) -> str:
        return str(shipment.redemption.merchant)

    @admin.display(description="Country", ordering="redemption__country")
    def country(self, shipment: Shipment) -> str:
        return str(shipment.redemption.country)

    @admin.display(description="Tracking")
    def tracking(self, shipment: Shipment) -> str:
        return tracking_link(shipment)

    @admin.display(description="Address")
    def delivery_address(self, shipment: Shipment) -> str:
        return address_text(shipment.address)

    @admin.display(description="History (the redemption's shipments)")
    def history(self, shipment: Shipment) -> str:
        events = RedemptionEvent.objects.filter(
            redemption_id=shipment.redemption_id, field__in=["shipment", "delivery"]
        ).select_related("actor")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{event.at:%Y-%m-%d %H:%M}",
                    event.field,
                    event.from_value or "-",
                    event.to_value,
                    event.source,
                    event.actor or "",
                    event.note,
                )
                for event in events
            ),
        )
        if not rows:
            return "-"
        return format_html(
            "<table><tr><th>At</th><th>What</th><th>Move</th><th>Source</th><th>Who</th>"
            "<th>Note</th></tr>{}</table>",
            rows,
        )
