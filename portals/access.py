"""The gate of every merchant-portal page: who is signed in, for which merchant, in which
role, and for how long.

- The merchant comes from the user's membership, never from the URL or a parameter: the
  chosen membership's id is kept in the session and read again on every request, so a
  membership removed ends access at the next click.
- A user with one membership uses it; with several, picks one on ``/portal/choose/``;
  with none, sees the "no portal access" page.
- Roles are checked here only (``portal_view(roles=...)``, sets from ``portals.roles``): a
  role that may not open a page gets the friendly 403 page. Another merchant's object is a
  404, because every lookup goes through ``request.portal.merchant`` and a selector's
  ``NotFound`` becomes Http404 here.
- Owners without an authenticator are sent to enrol one before any portal page.
- Provider staff viewing the portal as a merchant (``portals.view_as``) get that
  merchant alone, from their audited view, as its owner sees it, and write nothing.
- Portal sessions end after an idle time and after a maximum time since sign-in
  (``PORTAL_SESSION_IDLE_MINUTES``, ``PORTAL_SESSION_MAX_HOURS``).
"""

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from core.actors import Actor
from core.exceptions import NotFound
from merchants.models import Merchant, MerchantBrand, MerchantMembership, PortalViewAs
from merchants.selectors import membership_of_user, memberships_of_user, merchant_brand
from portals.roles import MFA_REQUIRED, mfa_required
from portals.view_as import view_as_membership

MEMBERSHIP_KEY = "portal_membership_id"
SIGNED_IN_KEY = "portal_signed_in_at"
SEEN_KEY = "portal_seen_at"


@dataclass(frozen=True)
class Portal:
    """What a portal view knows about its visitor: set as ``request.portal``."""

    membership: MerchantMembership
    # Whether the user is on other merchants' teams too (the header offers to switch).
    switchable: bool = False
    # Provider staff viewing the portal as the merchant (portals.view_as): read-only.
    view_as: PortalViewAs | None = None

    @property
    def merchant(self) -> Merchant:
        return self.membership.merchant

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def role_label(self) -> str:
        return self.membership.get_role_display()

    def may(self, allowed: Iterable[str]) -> bool:
        """Whether the visitor's role is among ``allowed`` (a set of ``portals.roles``)."""
        return self.role in allowed

    def actor(self) -> Actor:
        return Actor.portal(self.membership.user)

    @functools.cached_property
    def brand(self) -> MerchantBrand:
        return merchant_brand(merchant=self.membership.merchant)


def session_start(request: HttpRequest) -> None:
    """Stamp a fresh portal session (at sign-in)."""
    now = int(time.time())
    request.session[SIGNED_IN_KEY] = now
    request.session[SEEN_KEY] = now
    request.session.pop(MEMBERSHIP_KEY, None)


def session_expired(request: HttpRequest) -> bool:
    """Whether the portal session has passed its idle or its absolute limit; a session
    still within both is marked as seen now."""
    now = int(time.time())
    session = request.session
    signed_in = session.get(SIGNED_IN_KEY)
    seen = session.get(SEEN_KEY)
    if signed_in is None or seen is None:
        session_start(request)
        return False
    if now - seen > settings.PORTAL_SESSION_IDLE_MINUTES * 60:
        return True
    if now - signed_in > settings.PORTAL_SESSION_MAX_HOURS * 3600:
        return True
    session[SEEN_KEY] = now
    return False


def _signed_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "Your portal session ended. Please sign in again.")
    return redirect_to_login(request.get_full_path(), "account_login")


def signed_in_check(request: HttpRequest) -> HttpResponse | None:
    """The answer for a visitor who is not (or no longer) signed in to the portal."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), "account_login")
    if session_expired(request):
        return _signed_out(request)
    return None


def membership_current(request: HttpRequest) -> MerchantMembership | None:
    """The membership the session chose, read again from the database; a user with a
    single membership has it chosen for them."""
    chosen = request.session.get(MEMBERSHIP_KEY)
    if chosen is not None:
        membership = membership_of_user(user=request.user, pk=chosen)
        if membership is not None:
            return membership
        request.session.pop(MEMBERSHIP_KEY, None)
    memberships = list(memberships_of_user(user=request.user)[:2])
    if len(memberships) == 1:
        membership_choose(request, memberships[0])
        return memberships[0]
    return None


def membership_choose(request: HttpRequest, membership: MerchantMembership) -> None:
    request.session[MEMBERSHIP_KEY] = membership.pk


def no_access(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "portals/no_access.html", {}, status=403)


def forbidden(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "portals/forbidden.html", {}, status=403)


def portal_view(*, roles: Iterable[str]) -> Callable:
    """Open the decorated view to signed-in members of a merchant's team in ``roles``;
    the view finds ``request.portal`` set and may raise ``NotFound`` for a 404."""
    allowed = frozenset(roles)

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def gate(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            refused = signed_in_check(request)
            if refused is not None:
                return refused
            view_as = getattr(request, "view_as", None)
            if view_as is not None:
                # Staff viewing the portal as a merchant: that merchant only, as its owner.
                request.portal = Portal(view_as_membership(view_as), view_as=view_as)
                return _open(view, request, allowed, *args, **kwargs)
            membership = membership_current(request)
            if membership is None:
                if memberships_of_user(user=request.user).exists():
                    return redirect_to_login(request.get_full_path(), "portals:choose", "next")
                return no_access(request)
            others = memberships_of_user(user=request.user).exclude(pk=membership.pk)
            request.portal = Portal(membership, switchable=others.exists())
            if roles_mfa_missing(request):
                messages.info(request, "Owners protect their account with an authenticator app.")
                return redirect("mfa_activate_totp")
            return _open(view, request, allowed, *args, **kwargs)

        gate.portal_roles = allowed
        return gate

    return decorate


def _open(view: Callable[..., HttpResponse], request: HttpRequest, allowed, *args, **kwargs):
    if request.portal.role not in allowed:
        return forbidden(request)
    try:
        return view(request, *args, **kwargs)
    except NotFound as error:
        raise Http404(error.detail) from None


def roles_mfa_missing(request: HttpRequest) -> bool:
    """Whether the visitor's role needs an authenticator they have not set up."""
    portal: Portal = request.portal
    return mfa_required(portal.role) and not is_mfa_enabled(request.user)


def user_must_keep_mfa(user: object) -> bool:
    """Whether the user is an owner of any merchant, and so may not remove their
    authenticator."""
    return memberships_of_user(user=user).filter(role__in=MFA_REQUIRED).exists()
