"""``/r/<code>``: a member's referral link. It leads the friend to the store with the
code in ``?ref=`` (the store sends it back as ``referral_code`` when the friend joins or
orders); the link and its target carry nothing else about anyone.

The pages it shows (the code to type in when the merchant has no shop address, the link
that does not work) are read by the friend, who is nobody the portal knows: they are in
the browser's language when the portal is written in it (``Accept-Language``, as the
member portal's pages before sign-in), else the product's default (a merchant names no
language of its own); Arabic right to left."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from loyalty.models import MemberStatus
from loyalty.referrals.selectors import referral_destination, with_ref
from loyalty.referrals.services import referral_code_find
from merchants.models import Merchant, MerchantStatus
from portals.member_session import browser_language


def _page(
    request: HttpRequest,
    template: str,
    *,
    merchant: Merchant | None = None,
    status: int = 200,
    **context,
) -> HttpResponse:
    language = browser_language(request)
    with translation.override(language):
        response = TemplateResponse(
            request,
            f"portals/referral/{template}",
            {
                **context,
                "merchant": merchant,
                "language": language,
                "text_direction": "rtl" if translation.get_language_bidi() else "ltr",
            },
            status=status,
        )
        response.render()
    response["Content-Language"] = language
    patch_vary_headers(response, ["Accept-Language"])
    return response


@never_cache
@require_safe
def referral_link(request: HttpRequest, code: str) -> HttpResponse:
    found = referral_code_find(code=code)
    if (
        found is None
        or found.member.status != MemberStatus.ACTIVE
        or found.merchant.status != MerchantStatus.LIVE
    ):
        return _page(request, "unknown.html", status=404)
    target = referral_destination(code=found)
    if target is None:
        # Nowhere to send the friend: the code, to give when they join.
        return _page(request, "code.html", merchant=found.merchant, code=found.code)
    response = HttpResponseRedirect(with_ref(target, found.code))
    # The shop learns the code from the query, not where the friend came from.
    response["Referrer-Policy"] = "no-referrer"
    return response
