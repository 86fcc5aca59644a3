"""Staff actions that ask first, then call a service once per object.

An action opens a confirm page listing the objects with the action's form (a reason, a
number of points, or nothing but the Confirm button). Posting it (``apply``) runs the
service once per object. A domain error on one object becomes a message naming it and the
others still run: each service call owns its transaction, so none is left half done. The
same action runs from the list (the selected objects) and from an object's own page
(``<pk>/act/<name>/``, a page action: see ``core.admin.rights``)."""

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.admin.rights import require_page_action
from core.exceptions import DomainError

Label = Callable[[Any], str]
Done = str | Callable[[Any], str] | None


def _on_changelist(request: HttpRequest) -> bool:
    match = request.resolver_match
    return match is None or (match.url_name or "").endswith("_changelist")


class ConfirmActions:
    """Mixed into a ``ModelAdmin`` whose actions confirm, then call a service per object."""

    confirm_template = "admin/ops_action_form.html"
    # ``<pk>/act/<name>/`` pages: each name with the one permission it needs.
    page_actions: dict[str, str] = {}

    def confirm_form(self, form_class: type[forms.Form], request: HttpRequest, **kwargs: Any):
        """The action's form, bound once its confirm page is posted."""
        return form_class(request.POST if "apply" in request.POST else None, **kwargs)

    def confirm_page(
        self,
        request: HttpRequest,
        *,
        title: str,
        form: forms.Form,
        objects: Iterable,
        action: str | None = None,
    ) -> TemplateResponse:
        """The page that lists ``objects`` with ``form``. From the list it posts the action
        and the selection back to the list; on an object's own page, back to that page."""
        return TemplateResponse(
            request,
            self.confirm_template,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                "form": form,
                "objects": list(objects),
                "action": action if _on_changelist(request) else None,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )

    def apply_each(
        self,
        request: HttpRequest,
        objects: Iterable,
        call: Callable[[Any], Any],
        *,
        done: Done = None,
        label: Label = str,
    ) -> int:
        """``call`` each object; a domain error is a message naming the object, and so is a
        success when ``done`` says it (a text, or one made from what ``call`` returned).
        Returns how many calls succeeded."""
        applied = 0
        for obj in objects:
            try:
                result = call(obj)
            except DomainError as error:
                self.message_user(request, f"{label(obj)}: {error.detail}", messages.ERROR)
                continue
            applied += 1
            if done is not None:
                text = done(result) if callable(done) else done
                self.message_user(request, f"{label(obj)}: {text}", messages.SUCCESS)
        return applied

    def confirm_then_apply(
        self,
        request: HttpRequest,
        objects: QuerySet,
        *,
        form: forms.Form,
        title: str,
        action: str,
        call: Callable[[Any, dict], Any],
        done: Done = None,
        label: Label = str,
        summary: Callable[[int], str | None] | None = None,
        apply_to: Iterable | None = None,
    ) -> TemplateResponse | None:
        """The confirm page listing ``objects`` until its form is posted valid; then
        ``call(obj, data)`` for each object (those of ``apply_to`` when given: the ones
        the action still concerns), ``data`` being the form's cleaned data; and
        ``summary`` of how many succeeded as a last message when it gives one."""
        if not form.is_valid():
            return self.confirm_page(
                request, title=title, form=form, objects=objects, action=action
            )
        data = form.cleaned_data
        applied = self.apply_each(
            request,
            objects if apply_to is None else apply_to,
            lambda obj: call(obj, data),
            done=done,
            label=label,
        )
        text = summary(applied) if summary is not None else None
        if text:
            self.message_user(request, text, messages.SUCCESS)
        return None

    def page_action_urls(
        self, *, segment: str = "act", view: Callable[..., HttpResponse] | None = None
    ) -> list:
        """The URL of the object's page actions, ``<pk>/<segment>/<name>/``, named
        ``<app>_<model>_<segment>``; ``view`` defaults to ``page_action_view``."""
        opts = self.model._meta
        return [
            path(
                f"<int:pk>/{segment}/<str:name>/",
                self.admin_site.admin_view(view or self.page_action_view),
                name=f"{opts.app_label}_{opts.model_name}_{segment}",
            )
        ]

    def page_action_method(self, name: str) -> Callable[[HttpRequest, QuerySet], Any]:
        """The action a page action runs: the one of the same name."""
        return getattr(self, name)

    def page_action_view(self, request: HttpRequest, pk: int, name: str) -> HttpResponse:
        """One action on one object, from its page; back to that page once it is done."""
        require_page_action(self.page_actions, request, name)
        obj = get_object_or_404(self.model, pk=pk)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        queryset = self.model._default_manager.filter(pk=pk)
        response = self.page_action_method(name)(request, queryset)
        if response is not None:
            return response
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
        )
