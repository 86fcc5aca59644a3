"""Members' sign-ins to the member portal, kept inside Django's session.

A member has no password and no Django user: a signed link (from their store, or by
email) proves who they are, and the portal remembers it in the session under
``SESSION_KEY``, one entry per merchant: ``{merchant id: {"member": pk, "at": unix
seconds}}``. A shopper who is a member of two merchants has two sign-ins that know
nothing of each other; each page reads only the entry of the merchant its URL names, so
another merchant's slug with this session is simply "not signed in".

Signing in rotates the session key (``cycle_key``), so a session id planted before the
sign-in is worth nothing after it. A sign-in lasts ``MEMBER_SESSION_MAX_HOURS``.

``member_page`` frames every signed-in page: it resolves the merchant from the URL (404
when it is unknown or its portal is closed), the member from the session (a member
blocked or erased since is signed out), the merchant's active program, and the language:
the member's locale, else the browser's among ``settings.LANGUAGES``, else English.
"""

import datetime
import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from core.i18n import supported_language
from loyalty.models import Member, MemberStatus, Program
from loyalty.selectors import program_active
from merchants.models import Merchant, MerchantStatus
from merchants.selectors import merchant_shop_url

SESSION_KEY = "member_portal"
# Members see the portal of a live merchant, and of one suspended for a while (their
# points are still theirs); nothing before launch or after the end.
OPEN_STATUSES = frozenset({MerchantStatus.LIVE, MerchantStatus.SUSPENDED})


def _max_age() -> int:
    return settings.MEMBER_SESSION_MAX_HOURS * 3600


def portal_merchant_get(*, slug: str) -> Merchant:
    """The merchant whose member portal ``slug`` names, or 404."""
    merchant = (
        Merchant.objects.select_related("brand").filter(slug=slug, status__in=OPEN_STATUSES).first()
    )
    if merchant is None:
        raise Http404("No such portal.")
    return merchant


def _entries(request: HttpRequest) -> dict:
    entries = request.session.get(SESSION_KEY)
    return entries if isinstance(entries, dict) else {}


def member_sign_in(request: HttpRequest, *, member: Member) -> None:
    """Start ``member``'s sign-in to their merchant's portal in this browser (any earlier
    sign-in to that merchant, of another member, is replaced)."""
    entries = _entries(request)
    entries[str(member.merchant_id)] = {"member": member.pk, "at": int(time.time())}
    request.session.cycle_key()
    request.session[SESSION_KEY] = entries


def member_sign_out(request: HttpRequest, *, merchant: Merchant | None) -> None:
    """End the sign-in to ``merchant``'s portal, or to every merchant's when None."""
    entries = _entries(request)
    if merchant is None:
        entries = {}
    else:
        entries.pop(str(merchant.pk), None)
    request.session.cycle_key()
    if entries:
        request.session[SESSION_KEY] = entries
    else:
        request.session.pop(SESSION_KEY, None)


def signed_in_at(request: HttpRequest, *, merchant: Merchant) -> int | None:
    """When this browser signed in to ``merchant``'s portal (unix seconds), or None."""
    entry = _entries(request).get(str(merchant.pk))
    if not isinstance(entry, dict) or not isinstance(entry.get("at"), int):
        return None
    return entry["at"]


def signed_in_member(request: HttpRequest, *, merchant: Merchant) -> Member | None:
    """The active member of ``merchant`` this browser is signed in as, or None."""
    entry = _entries(request).get(str(merchant.pk))
    if not isinstance(entry, dict):
        return None
    if int(entry.get("at", 0)) + _max_age() < time.time():
        member_sign_out(request, merchant=merchant)
        return None
    member = (
        Member.objects.select_related("tier")
        .filter(merchant=merchant, pk=entry.get("member"), status=MemberStatus.ACTIVE)
        .first()
    )
    if member is None:
        member_sign_out(request, merchant=merchant)
    return member


def browser_language(request: HttpRequest) -> str:
    """The first of the browser's languages the portal is written in, else English."""
    header = request.headers.get("Accept-Language", "")
    codes = [code for code, _ in settings.LANGUAGES]
    for part in header.split(","):
        tag = part.split(";")[0].strip()
        if not tag or tag == "*":
            continue
        try:
            found = translation.get_supported_language_variant(tag.lower())
        except LookupError:
            continue
        if found in codes:
            return found
    return "en"


def member_language(request: HttpRequest, member: Member | None) -> str:
    if member is not None and member.locale:
        return supported_language(member.locale)
    return browser_language(request)


def safe_next(request: HttpRequest, merchant: Merchant, value: str | None) -> str:
    """``value`` when it is a path of this merchant's portal, else the portal's home."""
    prefix = reverse("member:home", kwargs={"merchant_slug": merchant.slug})
    if (
        value
        and value.startswith(prefix)
        and url_has_allowed_host_and_scheme(value, allowed_hosts=None)
    ):
        return value
    return prefix


def sign_in_url(merchant: Merchant, next_path: str = "") -> str:
    url = reverse("member:login", kwargs={"merchant_slug": merchant.slug})
    return f"{url}?{urlencode({'next': next_path})}" if next_path else url


@dataclass(frozen=True)
class Frame:
    """What every member page shows around its content."""

    merchant: Merchant
    member: Member | None
    program: Program | None
    language: str

    @property
    def text_direction(self) -> str:
        return "rtl" if translation.get_language_info(self.language)["bidi"] else "ltr"


def frame_context(request: HttpRequest, frame: Frame, **context: object) -> dict:
    return {
        **context,
        "merchant": frame.merchant,
        "member": frame.member,
        "program": frame.program,
        "language": frame.language,
        "text_direction": frame.text_direction,
        "points_name": frame.program.points_name if frame.program else "",
    }


def member_render(
    request: HttpRequest, template: str, nav: str, *, status: int = 200, **context: object
) -> HttpResponse:
    """A signed-in page of the portal: ``portals/member/<template>`` in the member's frame,
    with ``nav`` the menu item it is under."""
    return render(
        request,
        f"portals/member/{template}",
        frame_context(
            request,
            request.member_frame,
            nav=nav,
            shop_url=merchant_shop_url(merchant_id=request.merchant.pk),
            **context,
        ),
        status=status,
    )


def local_date(request: HttpRequest, moment: datetime.datetime) -> datetime.date:
    """The day ``moment`` falls on where the merchant is (its program's days)."""
    return timezone.localtime(moment, request.merchant.timezone).date()


def _serve(request, view, merchant, member, *args, **kwargs) -> HttpResponse:
    request.merchant = merchant
    request.member = member
    request.program = program_active(merchant=merchant)
    language = member_language(request, member)
    request.member_frame = Frame(merchant, member, request.program, language)
    with translation.override(language):
        response = view(request, merchant.slug, *args, **kwargs)
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response.render()
    # A member's points and name: never kept by a shared cache.
    response.headers.setdefault("Cache-Control", "private, no-store")
    response.headers["Content-Language"] = language
    return response


def public_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page of the portal anyone may open (the sign-in pages): the merchant and the
    language, and the member if one is signed in already."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, merchant_slug: str, *args, **kwargs) -> HttpResponse:
        merchant = portal_merchant_get(slug=merchant_slug)
        member = signed_in_member(request, merchant=merchant)
        return _serve(request, view, merchant, member, *args, **kwargs)

    return wrapper


def member_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A signed-in page: ``request.merchant``, ``request.member`` (active, of that
    merchant) and ``request.program`` set, the member's language active; a visitor who is
    not signed in is sent to the sign-in page, to come back here after."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, merchant_slug: str, *args, **kwargs) -> HttpResponse:
        merchant = portal_merchant_get(slug=merchant_slug)
        member = signed_in_member(request, merchant=merchant)
        if member is None:
            next_path = request.get_full_path() if request.method == "GET" else ""
            target = safe_next(request, merchant, next_path)
            return HttpResponseRedirect(sign_in_url(merchant, target))
        return _serve(request, view, merchant, member, *args, **kwargs)

    return wrapper


# -- the email sign-in link ------------------------------------------------------------------

EMAIL_LINK_MAX_AGE = 15 * 60
_EMAIL_LINK_SALT = "portals.member-email-link"
_USED_KEY = "member-email-link-used:{nonce}"


def email_link_token(*, member: Member) -> str:
    """A token for ``member``'s sign-in by email: signed with the site's secret, bound to
    the member's merchant, valid ``EMAIL_LINK_MAX_AGE`` and for one sign-in."""
    return signing.dumps(
        {"m": member.pk, "n": secrets.token_urlsafe(16)},
        salt=f"{_EMAIL_LINK_SALT}:{member.merchant_id}",
        compress=True,
    )


def _email_link_payload(*, merchant: Merchant, token: str) -> dict | None:
    try:
        payload = signing.loads(
            token, salt=f"{_EMAIL_LINK_SALT}:{merchant.pk}", max_age=EMAIL_LINK_MAX_AGE
        )
    except signing.BadSignature:  # tampered, another merchant's, or expired
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("n"), str):
        return None
    return payload


def email_link_member(*, merchant: Merchant, token: str) -> Member | None:
    """The active member of ``merchant`` the token names while it is valid and unused."""
    payload = _email_link_payload(merchant=merchant, token=token)
    if payload is None or cache.get(_USED_KEY.format(nonce=payload["n"])):
        return None
    return Member.objects.filter(
        merchant=merchant, pk=payload.get("m"), status=MemberStatus.ACTIVE
    ).first()


def email_link_use(*, merchant: Merchant, token: str) -> Member | None:
    """Spend the token: its member, the first time only (``cache.add`` is atomic, so two
    clicks at once sign in once)."""
    member = email_link_member(merchant=merchant, token=token)
    if member is None:
        return None
    nonce = _email_link_payload(merchant=merchant, token=token)["n"]
    if not cache.add(_USED_KEY.format(nonce=nonce), 1, timeout=EMAIL_LINK_MAX_AGE + 60):
        return None
    return member
