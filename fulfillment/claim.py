"""The claim page, ``/claim/<token>/``: where a member sees a delivered reward's codes.

No login: the signed token in the path is the credential (see ``fulfillment.delivery``).
So every response is kept out of caches and sends no referrer, which would carry the
token to the brand's site, and every view of a code is recorded as a ``CodeReveal``.
"""

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_GET

from fulfillment.delivery import ClaimLinkInvalid, claim_open, redemption_from_token
from fulfillment.models import Redemption, RedemptionStatus
from fulfillment.models.redemptions import OPEN_STATUSES
from fulfillment.vouchers import member_language, voucher_context, voucher_pdf


def _private(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapped


def _not_delivered(request: HttpRequest, redemption: Redemption) -> HttpResponse:
    """A page saying the reward is on its way, or that it was cancelled and refunded."""
    context = {
        "merchant_name": redemption.merchant.name,
        "brand_name": redemption.reward.brand.name,
        "reward_name": redemption.reward.name,
        "on_its_way": redemption.status in OPEN_STATUSES,
        "language": translation.get_language(),
    }
    return render(request, "fulfillment/claim/waiting.html", context)


def _invalid(request: HttpRequest, error: ClaimLinkInvalid) -> HttpResponse:
    context = {"expired": bool(error.extra.get("expired")), "language": translation.get_language()}
    return render(request, "fulfillment/claim/invalid.html", context, status=404)


@require_GET
@_private
def claim_page(request: HttpRequest, token: str) -> HttpResponse:
    """The reward: brand, value, code(s) and PIN(s), expiry, how to use it, terms."""
    try:
        redemption = redemption_from_token(token)
    except ClaimLinkInvalid as error:
        return _invalid(request, error)
    with translation.override(member_language(redemption.member)):
        if redemption.status != RedemptionStatus.DELIVERED:
            return _not_delivered(request, redemption)
        codes = claim_open(redemption=redemption)
        context = voucher_context(redemption, codes)
        context["token"] = token
        context["has_pdf"] = bool(codes)
        return render(request, "fulfillment/claim/page.html", context)


@require_GET
@_private
def claim_voucher_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The PDF voucher, as a download."""
    try:
        redemption = redemption_from_token(token)
    except ClaimLinkInvalid as error:
        return _invalid(request, error)
    with translation.override(member_language(redemption.member)):
        if redemption.status != RedemptionStatus.DELIVERED:
            return _not_delivered(request, redemption)
        claim_open(redemption=redemption)
    response = HttpResponse(voucher_pdf(redemption), content_type="application/pdf")
    filename = f"voucher-{str(redemption.public_id)[:8]}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
