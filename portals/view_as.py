"""The merchant portal while a provider staff user views it as a merchant
(``merchants.services.view_as``): read-only, with a banner on every page.

- ``ViewAsReadOnlyMiddleware`` finds the open view of the session (``request.view_as``) on
  every request under /portal/ and refuses every write there (any method but GET and HEAD)
  with a 403 page that says why; only ending the view and signing out go through, and
  both end it. Files opened (CSV, ZIP, PDF) are reads: allowed, and counted on the row.
- ``portals.access.portal_view`` takes the merchant from that view alone, as an owner
  would see it, so no portal page can reach another merchant's data, and the staff
  user's own memberships (if any) are set aside meanwhile.
- The view ends from the banner's End button, by signing out (of the portal or the
  admin), or after ``PORTAL_VIEW_AS_MINUTES``.
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from merchants.models import MembershipRole, MerchantMembership, PortalViewAs, ViewAsEnd
from merchants.services.view_as import (
    SESSION_KEY,
    portal_view_as_current,
    portal_view_as_download_note,
    portal_view_as_end,
)

PORTAL_PREFIX = "/portal/"
READS = frozenset({"GET", "HEAD"})
DOWNLOAD_TYPES = ("text/csv", "application/zip", "application/pdf")


def view_as_current(request: HttpRequest) -> PortalViewAs | None:
    """The session's open view, re-checked; a view that ended (time limit, right taken
    away) is forgotten, with a word to the user."""
    if not hasattr(request, "session") or SESSION_KEY not in request.session:
        return None
    view_as = portal_view_as_current(pk=request.session[SESSION_KEY], user=request.user)
    if view_as is None:
        request.session.pop(SESSION_KEY, None)
        messages.info(request, "Your read-only view of the merchant's portal has ended.")
    return view_as


def view_as_membership(view_as: PortalViewAs) -> MerchantMembership:
    """What the portal's pages read as the visitor's membership: the merchant's owner's
    view, never saved."""
    return MerchantMembership(
        merchant=view_as.merchant, user=view_as.staff, role=MembershipRole.OWNER
    )


def refused(request: HttpRequest, view_as: PortalViewAs) -> HttpResponse:
    from portals.access import Portal  # the gate imports this module

    request.portal = Portal(view_as_membership(view_as), view_as=view_as)
    # Answered by the middleware, before any view: rendered here.
    return TemplateResponse(request, "portals/view_as_refused.html", {}, status=403).render()


def _is_download(response: HttpResponse) -> bool:
    return response.status_code == 200 and (
        response.get("Content-Type", "").startswith(DOWNLOAD_TYPES)
        or "attachment" in response.get("Content-Disposition", "")
    )


class ViewAsReadOnlyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PORTAL_PREFIX):
            return self.get_response(request)
        view_as = view_as_current(request)
        request.view_as = view_as
        if view_as is None:
            return self.get_response(request)
        if request.method not in READS and request.path_info not in {
            reverse("portals:view_as_end"),
            reverse("account_logout"),
        }:
            return refused(request, view_as)
        response = self.get_response(request)
        if request.method == "GET" and _is_download(response):
            portal_view_as_download_note(view_as=view_as)
        return response


@require_POST
def view_as_end(request: HttpRequest) -> HttpResponse:
    """The banner's End button: back to the merchant's page in the admin. Without a view
    open (it ended meanwhile, or a merchant's user), it goes to the portal's front page."""
    view_as = getattr(request, "view_as", None)
    if view_as is None:
        return redirect("portals:dashboard")
    portal_view_as_end(view_as=view_as, reason=ViewAsEnd.ENDED)
    request.session.pop(SESSION_KEY, None)
    messages.info(request, f"You left {view_as.merchant.name}'s portal.")
    return HttpResponseRedirect(
        reverse("admin:merchants_merchant_change", args=[view_as.merchant_id])
    )


@receiver(user_logged_out, dispatch_uid="portals.view_as.signed_out")
def _end_on_sign_out(sender: object, request: HttpRequest | None, user: object, **kwargs) -> None:
    """Signing out of the portal or the admin ends the view (the session goes with it)."""
    if request is None or not hasattr(request, "session"):
        return
    pk = request.session.get(SESSION_KEY)
    if pk is None:
        return
    view_as = PortalViewAs.objects.filter(pk=pk, ended_at__isnull=True).first()
    if view_as is not None:
        portal_view_as_end(view_as=view_as, reason=ViewAsEnd.SIGNED_OUT)
