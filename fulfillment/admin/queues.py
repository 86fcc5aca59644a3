"""The redemption list's work queues and filters."""

import datetime
from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from catalog.models import Supplier
from fulfillment.models import Redemption, RedemptionStatus, SupplierOrder, SupplierOrderStatus
from fulfillment.models.redemptions import OPEN_STATUSES
from fulfillment.services import dispatch, interventions

STUCK_AFTER = datetime.timedelta(hours=1)


def _active_orders(**filters: Any) -> QuerySet:
    return SupplierOrder.objects.filter(
        redemption=OuterRef("pk"), status__in=dispatch.ACTIVE, **filters
    )


# -- filters -----------------------------------------------------------------------------


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [
            ("stuck", "Stuck (open, no change for over an hour)"),
            ("failing", "Failing"),
            ("manual", "Needs manual action"),
            ("unknown", "Unknown outcome"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "stuck":
            return queryset.filter(
                status__in=OPEN_STATUSES, updated_at__lt=timezone.now() - STUCK_AFTER
            )
        if value == "failing":
            return queryset.filter(status=RedemptionStatus.FAILED)
        if value == "manual":
            return queryset.filter(
                Exists(_active_orders(supplier__adapter=interventions.MANUAL_ADAPTER))
                | Q(needs_care=True)
            )
        if value == "unknown":
            return queryset.filter(Exists(_active_orders(status=SupplierOrderStatus.UNKNOWN)))
        return queryset


class SupplierFilter(admin.SimpleListFilter):
    title = "supplier"
    parameter_name = "supplier"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(str(pk), name) for pk, name in Supplier.objects.values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not (self.value() or "").isdigit():
            return queryset
        tried = SupplierOrder.objects.filter(redemption=OuterRef("pk"), supplier_id=self.value())
        return queryset.filter(Exists(tried))


class CountryFilter(admin.SimpleListFilter):
    title = "country"
    parameter_name = "country"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        codes = Redemption.objects.order_by("country").values_list("country", flat=True)
        return [(code, code) for code in codes.distinct()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = (self.value() or "").upper()
        if len(value) == 2 and value.isalpha():
            return queryset.filter(country=value)
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BANDS = {
        "hour": ("Under an hour", None, datetime.timedelta(hours=1)),
        "day": ("1 to 24 hours", datetime.timedelta(hours=1), datetime.timedelta(days=1)),
        "week": ("1 to 7 days", datetime.timedelta(days=1), datetime.timedelta(days=7)),
        "older": ("Over 7 days", datetime.timedelta(days=7), None),
    }

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(key, label) for key, (label, _, _) in self.BANDS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        _, older_than, younger_than = band
        now = timezone.now()
        if older_than is not None:
            queryset = queryset.filter(created_at__lte=now - older_than)
        if younger_than is not None:
            queryset = queryset.filter(created_at__gt=now - younger_than)
        return queryset
