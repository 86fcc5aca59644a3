"""The store API, ``/api/v1/``: each app contributes its routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("merchants.api.urls")),
    path("", include("loyalty.api.urls")),
    path("", include("catalog.api.urls")),
    path("", include("fulfillment.api.urls")),
    path("", include("customercare.api.urls")),
    path("", include("integrations.api.urls")),
]
