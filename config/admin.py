"""The ops admin site, and the two rules about staff rights it holds for every model admin
registered on it (the apps' own and those of the libraries: scheduled jobs, users):

- An action the user may not run is refused with 403 when it is posted, as it is hidden
  from the list's action menu; Django alone would answer "no action selected".
- An action that names no permissions needs the right to change the model: a library's
  action (run a scheduled job now) is never open to whoever may only look.

Each custom page of an admin checks the permissions of what it does itself (see
``core.admin.rights``); ``tests/merchants/test_staff_rights.py`` holds the whole
matrix of who may do what, read from this site's registry."""

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

DEFAULT_ACTION_PERMISSIONS = ("change",)


def posted_action(request: HttpRequest) -> str:
    """The name of the action a changelist POST asks for ("" when none): the one of the
    action bar whose button was pressed, as ``ModelAdmin.response_action`` reads it."""
    if request.method != "POST" or "_save" in request.POST:
        return ""
    try:
        index = int(request.POST.get("index", 0))
    except ValueError:
        index = 0
    names = request.POST.getlist("action")
    return names[index] if 0 <= index < len(names) else ""


class StaffRightsMixin:
    """Mixed by the site into every model admin registered on it."""

    def _filter_actions_by_permissions(self, request: HttpRequest, actions: list) -> list:
        return [
            action
            for action in actions
            if any(
                getattr(self, f"has_{permission}_permission")(request)
                for permission in getattr(action[0], "allowed_permissions", None)
                or DEFAULT_ACTION_PERMISSIONS
            )
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        name = posted_action(request)
        if name and name not in self.get_actions(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)


def with_staff_rights(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    if issubclass(admin_class, StaffRightsMixin):
        return admin_class
    # The admin's own metaclass builds the subclass (ModelAdmin's collects its Media).
    return type(admin_class)(
        admin_class.__name__,
        (StaffRightsMixin, admin_class),
        {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
    )


class OpsAdminSite(admin.AdminSite):
    site_header = settings.PROVIDER_NAME
    site_title = f"{settings.PROVIDER_NAME} back office"
    index_title = "Merchants, programs, rewards, fulfillment and care"

    def register(self, model_or_iterable, admin_class=None, **options) -> None:
        super().register(
            model_or_iterable, with_staff_rights(admin_class or admin.ModelAdmin), **options
        )
