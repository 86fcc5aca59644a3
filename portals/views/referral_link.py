"""``/r/<code>``: a member's referral link. It leads the friend to the store with the
code in ``?ref=`` (the store sends it back as ``referral_code`` when the friend joins or
orders); the link and its target carry nothing else about anyone."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from loyalty.models import MemberStatus
from loyalty.referrals.selectors import referral_destination, with_ref
from loyalty.referrals.services import referral_code_find
from merchants.models import MerchantStatus


@never_cache
@require_safe
def referral_link(request: HttpRequest, code: str) -> HttpResponse:
    found = referral_code_find(code=code)
    if (
        found is None
        or found.member.status != MemberStatus.ACTIVE
        or found.merchant.status != MerchantStatus.LIVE
    ):
        return TemplateResponse(request, "portals/referral/unknown.html", status=404)
    target = referral_destination(code=found)
    if target is None:
        # Nowhere to send the friend: the code, to give when they join.
        return TemplateResponse(
            request,
            "portals/referral/code.html",
            {"merchant": found.merchant, "code": found.code},
        )
    response = HttpResponseRedirect(with_ref(target, found.code))
    # The shop learns the code from the query, not where the friend came from.
    response["Referrer-Policy"] = "no-referrer"
    return response
