"""The nightly members CSV, for owners: the week's files, and each one's download."""

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from portals import roles
from portals.access import portal_view
from portals.exports import safe_filename
from portals.models import MemberExport


@portal_view(roles=roles.MEMBER_EXPORTS)
def member_exports(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(
        request,
        "portals/members/exports.html",
        {"exports": MemberExport.objects.filter(merchant=request.portal.merchant)},
    )


@portal_view(roles=roles.MEMBER_EXPORTS)
def member_export_download(request: HttpRequest, public_id) -> HttpResponse:
    export = get_object_or_404(MemberExport, merchant=request.portal.merchant, public_id=public_id)
    name = safe_filename(f"{request.portal.merchant.slug}-members-{export.day}", extension="csv")
    response = FileResponse(
        export.file.open("rb"), as_attachment=True, filename=name, content_type="text/csv"
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
