"""Exchange rates between the programs' currencies and the catalog's."""

from django.contrib import admin
from django.http import HttpRequest
from import_export.formats import base_formats

from core.admin.importexport import StaffImportExportAdmin
from loyalty.models import (
    ExchangeRate,
)
from loyalty.resources import ExchangeRateResource
from loyalty.services import exchange_rates


@admin.register(ExchangeRate)
class ExchangeRateAdmin(StaffImportExportAdmin):
    resource_classes = [ExchangeRateResource]
    formats = [base_formats.CSV, base_formats.XLSX]
    list_display = ["base", "quote", "rate", "as_of", "source"]
    list_filter = ["base", "quote", "source"]
    search_fields = ["base", "quote"]
    date_hierarchy = "as_of"
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: ExchangeRate, form, change: bool) -> None:
        exchange_rates.exchange_rate_save(rate=obj)

    def delete_model(self, request: HttpRequest, obj: ExchangeRate) -> None:
        exchange_rates.exchange_rate_delete(rate=obj)
