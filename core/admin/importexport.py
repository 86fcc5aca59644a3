"""The admin base for models staff import and export (django-import-export)."""

from django.http import HttpRequest
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats
from unfold.admin import ModelAdmin
from unfold.contrib.import_export.forms import ImportForm, SelectableFieldsExportForm


class StaffImportExportAdmin(ModelAdmin, ImportExportModelAdmin):
    """Import needs the rights to add and to change the model; export, to view it."""

    formats = [base_formats.CSV, base_formats.XLSX, base_formats.JSON]
    import_form_class = ImportForm
    export_form_class = SelectableFieldsExportForm

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)
