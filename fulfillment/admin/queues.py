"""The redemption list's work queues and filters."""

import datetime

from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from unfold.admin import ModelAdmin

from catalog.models import Reward, Supplier
from fulfillment.models import SupplierOrder
from fulfillment.queues import QUEUES, redemption_queue

# -- filters -----------------------------------------------------------------------------


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin) -> list[tuple]:
        return list(QUEUES.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() not in QUEUES:
            return queryset
        return redemption_queue(queryset, self.value(), now=timezone.now())


class SupplierFilter(admin.SimpleListFilter):
    title = "supplier"
    parameter_name = "supplier"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin) -> list[tuple]:
        return [(str(pk), name) for pk, name in Supplier.objects.values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not (self.value() or "").isdigit():
            return queryset
        tried = SupplierOrder.objects.filter(redemption=OuterRef("pk"), supplier_id=self.value())
        return queryset.filter(Exists(tried))


class CountryFilter(admin.SimpleListFilter):
    title = "country"
    parameter_name = "country"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin) -> list[tuple]:
        # The countries the catalog's rewards are offered in (a redemption's country is
        # one of its reward's): read from the small rewards table, where a DISTINCT over
        # the redemptions would read every one on each page. A country a reward no longer
        # lists still filters by its URL (?country=FR).
        codes = {
            str(code)
            for countries in Reward.objects.values_list("countries", flat=True)
            for code in countries
        }
        return [(code, code) for code in sorted(codes)]

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

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin) -> list[tuple]:
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
