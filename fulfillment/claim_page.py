"""The claim page, ``/claim/<token>/``: where a member sees a delivered reward's codes.

No login: the signed token in the path is the credential (see ``fulfillment.services.delivery``).
Opening the link (GET) shows what the reward is and a "Show my code" button; only that
button's POST shows the codes, records each showing as a ``CodeReveal`` and marks the
delivery claimed. Mail scanners and link previews follow the links in an email with GET,
and must neither claim the reward nor read its code. The PDF voucher, which holds the
codes too, is likewise a POST from the revealed page.

Every response, refusals included, is kept out of caches and search engines, and sends
no referrer to other sites, which would carry the token to the brand's site. The POSTs
of one link are limited (``settings.CLAIM_POST_RATE``, see ``fulfillment.link_throttle``):
past the limit the page says to wait, with status 429 and Retry-After, and shows nothing.
"""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from core.actors import Actor
from fulfillment.link_throttle import link_post_count
from fulfillment.models import Redemption, RedemptionStatus
from fulfillment.models.redemptions import OPEN_STATUSES
from fulfillment.services.delivery import ClaimLinkInvalid, claim_open, redemption_from_token
from fulfillment.vouchers import (
    code_expiry,
    member_language,
    money_display,
    voucher_context,
    voucher_pdf,
)

# The member holding the link: no account, so no user to record; the label says who.
CLAIM_LINK_ACTOR = Actor(kind="portal", name="member (claim link)")

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    # Not "no-referrer": under it a browser sends "Origin: null" with the page's own
    # form posts, which the CSRF check refuses. "same-origin" still sends nothing to
    # any other site.
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex, nofollow",
}

View = Callable[..., HttpResponse]


def private_view(*methods: str) -> Callable[[View], View]:
    """The view answers only ``methods`` (else 405), checks a POST's CSRF token, and
    every response it gives carries ``PRIVATE_HEADERS``.

    The CSRF check runs inside the view rather than in the middleware before it, so that
    its refusal is private too."""

    def decorator(view: View) -> View:
        checked = require_http_methods(list(methods))(csrf_protect(view))

        @wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            response = checked(request, *args, **kwargs)
            for header, value in PRIVATE_HEADERS.items():
                response[header] = value
            return response

        return csrf_exempt(wrapped)  # checked by csrf_protect above

    return decorator


def _text_direction() -> str:
    return "rtl" if translation.get_language_bidi() else "ltr"


def _not_delivered(request: HttpRequest, redemption: Redemption) -> HttpResponse:
    """A page saying the reward is on its way, that it was cancelled and refunded, or
    that it was replaced by a reissue (whose own link the member gets by email)."""
    context = {
        "merchant_name": redemption.merchant.name,
        "brand_name": redemption.reward.brand.name,
        "reward_name": redemption.reward.name,
        "on_its_way": redemption.status in OPEN_STATUSES,
        "replaced": redemption.voided_at is not None,
        "language": translation.get_language(),
        "text_direction": _text_direction(),
    }
    return render(request, "fulfillment/claim/waiting.html", context)


def _invalid(request: HttpRequest, error: ClaimLinkInvalid) -> HttpResponse:
    # No member to take a locale from: the browser's, among the supported ones.
    with translation.override(translation.get_language_from_request(request)):
        context = {
            "expired": bool(error.extra.get("expired")),
            "language": translation.get_language(),
            "text_direction": _text_direction(),
        }
        return render(request, "fulfillment/claim/invalid.html", context, status=404)


def _ready(request: HttpRequest, redemption: Redemption, token: str) -> HttpResponse:
    """What the reward is, and the button that shows its code; no code, no reveal."""
    reward = redemption.reward
    # Only the dates: the page decrypts no code it does not show.
    codes = redemption.codes.only("pk", "redemption_id", "expires_on")
    expiries = [code_expiry(code, redemption) for code in codes]
    context = {
        "redemption": redemption,
        "merchant_name": redemption.merchant.name,
        "brand_name": reward.brand.name,
        "reward_name": reward.name,
        "value": money_display(
            redemption.face_value, redemption.face_currency, translation.get_language()
        ),
        "quantity": redemption.quantity,
        # The soonest, when a redemption of several codes has several dates.
        "expires_on": min((day for day in expiries if day is not None), default=None),
        "token": token,
        "language": translation.get_language(),
        "text_direction": _text_direction(),
    }
    return render(request, "fulfillment/claim/ready.html", context)


def _throttled(request: HttpRequest, token: str, retry_after: int) -> HttpResponse:
    context = {
        "token": token,
        "language": translation.get_language(),
        "text_direction": _text_direction(),
    }
    response = render(request, "fulfillment/claim/throttled.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _post_refused(request: HttpRequest, token: str) -> HttpResponse | None:
    """Counts a POST through this link; the refusal page once it is one too many."""
    retry_after = link_post_count(scope="claim", token=token, rate=settings.CLAIM_POST_RATE)
    return None if retry_after is None else _throttled(request, token, retry_after)


@private_view("GET", "POST")
def claim_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the reward (brand, value, expiry) and a "Show my code" button. POST, from
    that button: the code(s) and PIN(s), expiry, how to use it, terms."""
    try:
        redemption = redemption_from_token(token)
    except ClaimLinkInvalid as error:
        return _invalid(request, error)
    with translation.override(member_language(redemption.member)):
        if request.method == "POST" and (refused := _post_refused(request, token)):
            return refused
        if redemption.status != RedemptionStatus.DELIVERED or redemption.voided_at:
            return _not_delivered(request, redemption)
        if request.method == "GET":
            return _ready(request, redemption, token)
        codes = claim_open(redemption=redemption, actor=CLAIM_LINK_ACTOR)
        context = voucher_context(redemption, codes)
        context["token"] = token
        context["has_pdf"] = bool(codes)
        return render(request, "fulfillment/claim/page.html", context)


@private_view("POST")
def claim_voucher_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The PDF voucher, as a download, from the revealed page's button."""
    try:
        redemption = redemption_from_token(token)
    except ClaimLinkInvalid as error:
        return _invalid(request, error)
    with translation.override(member_language(redemption.member)):
        if refused := _post_refused(request, token):
            return refused
        if redemption.status != RedemptionStatus.DELIVERED or redemption.voided_at:
            return _not_delivered(request, redemption)
        claim_open(redemption=redemption, actor=CLAIM_LINK_ACTOR)
    response = HttpResponse(voucher_pdf(redemption), content_type="application/pdf")
    filename = f"voucher-{str(redemption.public_id)[:8]}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
