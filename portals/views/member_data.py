"""The member's privacy requests on their profile page: email me my data, delete my
account, and the download of the data archive. Each calls one customercare service; the
archive is served only to the member it belongs to, signed in to that merchant's portal
(anything else, another member's token included, is the same 404). A request the service
refuses for now (data asked for less than a day ago: 429 with when to ask again; a
deletion already waiting for review: 409) gets a page saying so, and nothing is written."""

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_GET, require_POST

from core.actors import Actor
from customercare.account_deletion import account_deletion_request
from customercare.exceptions import DataExportTooSoon, DeletionAlreadyRequested
from customercare.member_data_requests import (
    member_data_export_get,
    member_data_request,
    member_data_request_refusal,
)
from customercare.templatetags.member_privacy import member_data_request_next_text
from portals.member_session import member_page, member_render


def _profile(merchant_slug: str, **flag: str) -> HttpResponseRedirect:
    url = reverse("member:profile", kwargs={"merchant_slug": merchant_slug})
    ((name, value),) = flag.items()
    return HttpResponseRedirect(
        f"{url}?{name}={value}#profile-{'delete' if name == 'deletion' else 'data'}-title"
    )


@require_POST
@member_page
def data_request(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    if member_data_request_refusal(member=request.member):
        return _profile(merchant_slug, data="refused")
    try:
        member_data_request(member=request.member, actor=Actor.member())
    except DataExportTooSoon as refused:
        response = member_render(
            request,
            "privacy_request_refused.html",
            "profile",
            status=refused.status,
            available_at=member_data_request_next_text(
                refused.available_at,
                request.member,
                translation.to_locale(translation.get_language()),
            ),
        )
        response["Retry-After"] = str(refused.retry_after)
        return response
    return _profile(merchant_slug, data="requested")


@require_POST
@member_page
def deletion_request(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    if request.POST.get("confirm") != "yes":
        return _profile(merchant_slug, deletion="unconfirmed")
    try:
        account_deletion_request(
            merchant=request.merchant,
            member=request.member,
            reason=request.POST.get("reason", ""),
            actor=Actor.member(),
        )
    except DeletionAlreadyRequested as refused:
        return member_render(
            request, "privacy_request_refused.html", "profile", status=refused.status
        )
    return _profile(merchant_slug, deletion="requested")


@require_GET
@member_page
def data_download(request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
    export = member_data_export_get(member=request.member, token=token)
    if export is None or not export.file:
        raise Http404("No such archive.")
    name = f"{merchant_slug}-my-data-{export.ready_at:%Y-%m-%d}.zip"
    response = FileResponse(
        export.file.open("rb"), as_attachment=True, filename=name, content_type="application/zip"
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
