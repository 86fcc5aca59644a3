"""The badge images, served from the database (every web host serves the same file)."""

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from loyalty.models import Achievement


@require_GET
def badge(request: HttpRequest, pk: int, version: str) -> HttpResponse:
    """A badge by its id and version: the version is part of the address, so the image
    can be cached for good, and ids alone cannot be walked through."""
    achievement = (
        Achievement.objects.filter(pk=pk, badge_version=version)
        .exclude(badge_version="")
        .only("badge")
        .first()
    )
    if achievement is None or not achievement.badge:
        raise Http404("No such badge.")
    response = HttpResponse(bytes(achievement.badge), content_type="image/png")
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response
