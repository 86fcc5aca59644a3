"""A domain error a service raises, shown where staff acted: on the field it names, or
as a message on the page."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from unfold.admin import ModelAdmin

from core.exceptions import DomainError


def form_error(form: forms.BaseForm, error: DomainError) -> None:
    """The error on the form's field it names, or on the whole form."""
    form.add_error(error.field if error.field in form.fields else None, error.detail)


class ServiceErrorsAdmin(ModelAdmin):
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
