from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import bad_request, page_not_found, permission_denied, server_error
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import healthz
from core.api.errors import problem_response
from loyalty.achievements.views import badge
from portals.views.referral_link import referral_link


@csrf_exempt
def api_not_found(request: HttpRequest) -> HttpResponse:
    """Any method on an unknown path under /api/: a 404 problem. Exempt from CSRF, like
    every API view, so a POST gets the 404 and not Django's HTML CSRF page."""
    return problem_response(status=404, code="not_found", title="Not found.")


def not_offered(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("The portal does not offer this.")


# allauth's pages the merchant portal does not offer: open sign-up (users are invited),
# managing email addresses (the invited address is the account's), sign-in by emailed code.
PORTAL_NOT_OFFERED = [
    re_path(r"^portal/signup/", not_offered),
    re_path(r"^portal/email/", not_offered),
    re_path(r"^portal/confirm-email/", not_offered),
    re_path(r"^portal/login/code/", not_offered),
    re_path(r"^portal/2fa/webauthn/", not_offered),
]


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        # The split view serves Swagger UI's initialising script as a file, not inline.
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema",
            template_name="api_docs.html",
            # A page, not an endpoint: OPTIONS would render DRF's metadata through the
            # page's HTML renderer, which has no template for it.
            http_method_names=["get", "head"],
        ),
        name="api-docs",
    ),
    path("claim/", include("fulfillment.urls")),
    *PORTAL_NOT_OFFERED,
    path("portal/", include("portals.urls")),
    # Sign-in, sign-out, password reset and change, TOTP and recovery codes.
    path("portal/", include("allauth.urls")),
    path("care/", include("customercare.urls")),
    path("widget/", include("integrations.widget.urls")),
    # A member's referral link: short, on the site's own host (PUBLIC_BASE_URL).
    path("r/<str:code>", referral_link, name="referral-link"),
    path("m/<slug:merchant_slug>/", include("portals.member_urls")),
    path("badges/<int:pk>/<slug:version>.png", badge, name="achievement-badge"),
    # Unknown API paths answer in the API's error format, in DEBUG too.
    re_path(r"^api/", api_not_found),
    # Uploaded and drawn images (brand logos, reward pictures) in development; nothing
    # when DEBUG is off, where the web server or a storage service serves MEDIA_URL.
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
]


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


# What Django answers itself, before or outside a view: problem documents under /api/,
# its HTML pages elsewhere.


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return problem_response(
            status=413,
            code="request_too_large",
            title="Request Entity Too Large",
            detail="The request body is too large.",
        )
    return problem_response(
        status=400,
        code="bad_request",
        title="Bad Request",
        detail="The request could not be read.",
    )


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return permission_denied(request, exception)
    return problem_response(status=403, code="permission_denied", title="Forbidden")


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return page_not_found(request, exception)
    return problem_response(status=404, code="not_found", title="Not found.")


def handler500(request: HttpRequest) -> HttpResponse:
    if not _is_api(request):
        return server_error(request)
    return problem_response(status=500, code="error", title="Server error.")
