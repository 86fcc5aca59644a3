"""What the catalog's admin pages share: service errors as form errors, import and
export, read-only history."""

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from simple_history.admin import SimpleHistoryAdmin

from core.exceptions import DomainError
from core.importexport import StaffImportExportAdmin

COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


def in_country(code: str) -> Q:
    """Rewards redeemable in ``code``: ``countries`` is stored as ``DE,FR``."""
    if not COUNTRY_CODE.match(code):
        raise ValueError(f"Not a country code: {code!r}")
    return Q(countries__regex=rf"(^|,){code}(,|$)")


def form_error(form: forms.BaseForm, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.detail)


class ServiceErrorsAdmin(admin.ModelAdmin):
    """A domain error the form could not foresee (a race, a missing program) becomes a
    message on the form page; the transaction around the save is rolled back."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            self.message_user(request, error.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


CatalogImportExportAdmin = StaffImportExportAdmin


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin):
    """The history is for reading: changes go through the services, not a revert."""

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
