"""The portal's frame pages: the overview, choosing a merchant, the brand's colours."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme

from loyalty.selectors import program_active
from merchants.selectors import membership_of_user, memberships_of_user, store_list
from portals import roles
from portals.access import membership_choose, no_access, portal_view, signed_in_check
from portals.brand import brand_css


def overview(request: HttpRequest) -> HttpResponse:
    """The portal's front page for roles that do not read reports."""
    merchant = request.portal.merchant
    return TemplateResponse(
        request,
        "portals/dashboard.html",
        {
            "program": program_active(merchant=merchant),
            "store_count": store_list(merchant=merchant).filter(is_active=True).count(),
        },
    )


def choose(request: HttpRequest) -> HttpResponse:
    """Pick which merchant's portal to open, for a user on several merchants' teams."""
    refused = signed_in_check(request)
    if refused is not None:
        return refused
    memberships = list(memberships_of_user(user=request.user))
    if not memberships:
        return no_access(request)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) or not next_url.startswith("/portal/"):
        next_url = ""
    if request.method == "POST":
        membership = membership_of_user(user=request.user, pk=request.POST.get("membership"))
        if membership is None:
            return TemplateResponse(
                request,
                "portals/choose.html",
                {"memberships": memberships, "next": next_url, "error": True},
                status=400,
            )
        membership_choose(request, membership)
        return HttpResponseRedirect(next_url) if next_url else redirect("portals:dashboard")
    return TemplateResponse(
        request, "portals/choose.html", {"memberships": memberships, "next": next_url}
    )


@portal_view(roles=roles.EVERYONE)
def brand_stylesheet(request: HttpRequest) -> HttpResponse:
    """The merchant's colours as the design system's custom properties: a stylesheet, so
    the Content-Security-Policy needs no inline style."""
    response = HttpResponse(
        brand_css(request.portal.brand.colour), content_type="text/css; charset=utf-8"
    )
    response["Cache-Control"] = "private, max-age=300"
    return response
