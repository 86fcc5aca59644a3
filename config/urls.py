from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.defaults import page_not_found, server_error
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import healthz
from merchants.api.errors import problem_response

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        # The split view serves Swagger UI's initialising script as a file, not inline.
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    path("claim/", include("fulfillment.urls")),
    path("care/", include("customercare.urls")),
    # Unknown API paths answer in the API's error format, in DEBUG too.
    re_path(r"^api/", lambda request: handler404(request, None)),
    # Uploaded and drawn images (brand logos, reward pictures) in development; nothing
    # when DEBUG is off, where the web server or a storage service serves MEDIA_URL.
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
]


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    """API clients get a problem document for unknown paths; people get the HTML page."""
    if request.path.startswith("/api/"):
        return problem_response(status=404, code="not_found", title="Not found.")
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return problem_response(status=500, code="error", title="Server error.")
    return server_error(request)
