"""Security headers on every response, and the answer to a locked-out sign-in (the admin's
and the merchant portal's).

The Content-Security-Policy comes from django-csp (``CONTENT_SECURITY_POLICY`` in the
settings): one strict policy for every page. A few paths need more (the admin, where
third-party templates write inline styles; the API docs, whose Swagger UI draws data:
images), and ``CONTENT_SECURITY_POLICY_RELAXATIONS`` adds those sources under a path
prefix, so nothing else is loosened with them. A view may still adjust its own policy
with django-csp's decorators; this only adds to what they ask.

The Permissions-Policy header switches off the browser features no page here uses
(``PERMISSIONS_POLICY``), so an injected frame or script cannot ask for them either.
"""

from collections.abc import Callable
from datetime import timedelta

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import TemplateResponse


def relaxations_for(path: str) -> dict[str, list[str]]:
    """The sources every configured prefix of ``path`` adds, directive by directive."""
    added: dict[str, list[str]] = {}
    for prefix, directives in settings.CONTENT_SECURITY_POLICY_RELAXATIONS.items():
        if path.startswith(prefix):
            for directive, sources in directives.items():
                added.setdefault(directive, []).extend(sources)
    return added


class PathCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the sources of ``relaxations_for`` the path added."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        added = relaxations_for(request.path_info)
        if added and not report_only:
            update = {key: list(value) for key, value in (parts.update or {}).items()}
            for directive, sources in added.items():
                update[directive] = [*update.get(directive, []), *sources]
            parts.update = update
        return parts


def permissions_policy_header(features: dict[str, list[str]]) -> str:
    """``{"camera": [], "fullscreen": ["self"]}`` → ``camera=(), fullscreen=(self)``."""
    return ", ".join(f"{feature}=({' '.join(allow)})" for feature, allow in features.items())


class PermissionsPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header = permissions_policy_header(settings.PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = self.header
        return response


def admin_lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """What django-axes answers a sign-in from a locked-out username and address: the
    admin's own page, 429 with Retry-After, saying how long and who can unlock it."""
    cool_off: timedelta | None = settings.AXES_COOLOFF_TIME
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed sign-ins",
        "cool_off_minutes": int(cool_off.total_seconds() // 60) if cool_off else None,
    }
    response = TemplateResponse(request, "admin/login_locked.html", context, status=429)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response.render()


PORTAL_PREFIX = "/portal/"


def portal_lockout_response(request: HttpRequest) -> HttpResponse:
    """The merchant portal's page for a locked-out sign-in: 429 with Retry-After."""
    cool_off: timedelta | None = settings.AXES_COOLOFF_TIME
    minutes = int(cool_off.total_seconds() // 60) if cool_off else None
    response = TemplateResponse(
        request, "portals/login_locked.html", {"cool_off_minutes": minutes}, status=429
    )
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response.render()


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """django-axes' answer to a locked-out sign-in, in the look of the site it came from."""
    if request.path_info.startswith(PORTAL_PREFIX):
        return portal_lockout_response(request)
    return admin_lockout_response(request, original_response, credentials)


def signin_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The name django-axes counts failures by: the admin's username, or the email a
    merchant-portal user signs in with (allauth passes it as ``email``; its form field is
    ``login``). Emails are compared without case, as allauth finds the user."""
    source = credentials if credentials else getattr(request, "POST", {})
    name = source.get("username") or source.get("email") or source.get("login")
    if not name:
        return None
    name = str(name).strip()
    return name.lower() if "@" in name else name
