"""The ops admin site, and the two rules about staff rights it holds for every model admin
registered on it (the apps' own and those of the libraries: scheduled jobs, users):

- An action the user may not run is refused with 403 when it is posted, as it is hidden
  from the list's action menu; Django alone would answer "no action selected".
- An action that names no permissions needs the right to change the model: a library's
  action (run a scheduled job now) is never open to whoever may only look.

Each custom page of an admin checks the permissions of what it does itself (see
``core.admin.rights``); ``tests/merchants/test_staff_rights.py`` holds the whole
matrix of who may do what, read from this site's registry."""

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import path, reverse
from unfold.sites import UnfoldAdminSite

from config import home, navigation, staff_mfa, staff_time_zone

DEFAULT_ACTION_PERMISSIONS = ("change",)
BADGES_SECONDS = 60


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


def once_per_object(method: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A read-only field's method, computed once per object and page: unfold looks every
    read-only field up several times while it renders a form (to learn its kind, then for
    its contents), and a field that queries would query each time."""
    name = method.__name__

    @functools.wraps(method)
    def computed(model_admin: Any, obj: Any) -> Any:
        if obj is None:
            return method(model_admin, obj)
        cache = obj.__dict__.setdefault("_admin_read_only_fields", {})
        if name not in cache:
            cache[name] = method(model_admin, obj)
        return cache[name]

    return computed


def form_field_names(admin_class: type[admin.ModelAdmin]) -> set[str]:
    """The names a model admin's form pages show: its read-only fields, fields and
    fieldsets (a nested tuple puts fields on one line)."""
    names: list[Any] = [*admin_class.readonly_fields, *(admin_class.fields or [])]
    for _, options in admin_class.fieldsets or []:
        names.extend(options.get("fields", []))
    flat: set[str] = set()
    for name in names:
        flat.update(name if isinstance(name, list | tuple) else [name])
    return {name for name in flat if isinstance(name, str)}


def with_staff_rights(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    if issubclass(admin_class, StaffRightsMixin):
        return admin_class
    attrs: dict[str, Any] = {
        "__module__": admin_class.__module__,
        "__qualname__": admin_class.__qualname__,
    }
    for field in form_field_names(admin_class):
        method = getattr(admin_class, field, None)
        if callable(method):
            attrs[field] = once_per_object(method)
    # The admin's own metaclass builds the subclass (ModelAdmin's collects its Media).
    return type(admin_class)(admin_class.__name__, (StaffRightsMixin, admin_class), attrs)


class OpsAdminSite(UnfoldAdminSite):
    """django-unfold's admin frame: the provider's name and mark, the environment label,
    and the sidebar of ``config.navigation``."""

    site_header = settings.PROVIDER_NAME
    site_title = f"{settings.PROVIDER_NAME} back office"
    index_title = "Today"

    def get_sidebar_list(self, request: HttpRequest) -> list[dict[str, Any]]:
        # The badges' counts are a minute old at most: every page shows them, and the
        # home's cards have the current figures.
        key = f"ops-badges:{request.user.pk}"
        badges = cache.get(key)
        if badges is None:
            badges = home.badges(self, request)
            cache.set(key, badges, BADGES_SECONDS)
        return navigation.sidebar(self, request, badges)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None):
        context = {
            **self.each_context(request),
            "title": "Today",
            "sections": home.home_sections(self, request),
            **(extra_context or {}),
        }
        request.current_app = self.name
        return TemplateResponse(request, "admin/index.html", context)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None):
        # unfold's sign-in form carries no "next" field: without one, a sign-in would go
        # to the merchant portal (LOGIN_REDIRECT_URL) rather than back to the admin.
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            request.GET = request.GET.copy()
            request.GET[REDIRECT_FIELD_NAME] = reverse(f"{self.name}:index")
        # The password, then the second factor (config.staff_mfa).
        return staff_mfa.login_view(self, request, extra_context)

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and staff_mfa.mfa_satisfied(request.user)

    def get_urls(self):
        return [*staff_mfa.urls(self), *staff_time_zone.urls(self), *super().get_urls()]

    def extra_urls(self) -> list:
        # django-unfold's get_urls puts these beside its own palette search ("search/").
        return [path("search/all/", self.admin_view(self.search_all), name="search_all")]

    def search_all(self, request: HttpRequest) -> TemplateResponse:
        """The ops console's search as a page, for a browser without JavaScript."""
        # Imported here: the search reads the apps' admin helpers, which register their
        # models on this site.
        from config import search

        return search.search_page(self, request)

    def register(self, model_or_iterable, admin_class=None, **options) -> None:
        super().register(
            model_or_iterable, with_staff_rights(admin_class or admin.ModelAdmin), **options
        )


ENVIRONMENT_COLOURS = {"production": "danger", "staging": "warning"}


def environment_label(request: HttpRequest) -> list[str]:
    """The label in the admin's header (``ENVIRONMENT_LABEL``): red on production, amber on
    staging, blue elsewhere, so nobody takes one for another."""
    label = settings.ENVIRONMENT_LABEL
    return [label.capitalize(), ENVIRONMENT_COLOURS.get(label.lower(), "info")]


def provider_mark(request: HttpRequest) -> str:
    return settings.PROVIDER_MARK_URL or static("config/provider-mark.svg")


def environment_title_prefix(request: HttpRequest) -> str:
    return f"[{settings.ENVIRONMENT_LABEL.capitalize()}] "


def ops_styles(request: HttpRequest) -> str:
    return static("config/admin.css")


def ops_page_styles(request: HttpRequest) -> str:
    """The admin's own pages (forms, confirmations, reports) in unfold's look."""
    return static("config/admin-pages.css")
