"""The member's side of a member message, under ``/m/<merchant>/messages/<token>/``: the
unsubscribe page and the message's tracked link. The token names one message of one
merchant; another merchant's token, like an unknown one, is a friendly 404.

Unsubscribing follows RFC 8058: a mail provider's one-click POST (``List-Unsubscribe=
One-Click``, no cookie, no CSRF token) answers 200 and unsubscribes; a GET only shows a
page whose button POSTs, since mail scanners open every link of a message. The pages are
in the member's language, in the merchant's colour, and need no JavaScript."""

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from core.exceptions import NotFound
from core.i18n import supported_language
from loyalty.messages import services
from loyalty.messages.emails import brand_of
from loyalty.models import MemberMessage, MessageKind
from merchants.models import Merchant, MerchantBrand
from portals.brand import brand_css

# What the member stops receiving, in the page's words.
TOPICS = {
    MessageKind.WELCOME: "welcome",
    MessageKind.POINTS_EXPIRING: "expiring",
    MessageKind.TIER_REACHED: "tier",
    MessageKind.TIER_LOST: "tier",
    MessageKind.ACHIEVEMENT_COMPLETED: "achievement",
    MessageKind.REFERRAL_REWARDED: "referral",
}


def _context(
    message: MemberMessage | None, merchant: Merchant | None = None, **context: object
) -> dict:
    return {
        **context,
        "message": message,
        "merchant": message.merchant if message is not None else merchant,
        "topic": TOPICS.get(message.kind, "") if message is not None else "",
        "language": translation.get_language(),
        "text_direction": "rtl" if translation.get_language_bidi() else "ltr",
    }


def _not_found(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    # No member to take a language from: the browser's, among the supported ones. The
    # merchant the address names, if any, frames the page (its name and colour are public).
    merchant = Merchant.objects.select_related("brand").filter(slug=merchant_slug).first()
    with translation.override(translation.get_language_from_request(request)):
        return render(
            request,
            "portals/member/message_missing.html",
            _context(None, merchant=merchant),
            status=404,
        )


def _message(merchant_slug: str, token: str) -> MemberMessage | None:
    try:
        return services.message_by_token(merchant_slug=merchant_slug, token=token)
    except NotFound:
        return None


@csrf_exempt  # RFC 8058: the mail provider's POST carries no cookie and no token
@require_http_methods(["GET", "HEAD", "POST"])
def message_unsubscribe(request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
    message = _message(merchant_slug, token)
    if message is None:
        return _not_found(request, merchant_slug)
    with translation.override(supported_language(message.locale)):
        if request.method == "POST":
            one_click = request.POST.get("List-Unsubscribe") == "One-Click"
            services.message_opt_out(
                message=message, source="one-click" if one_click else "unsubscribe page"
            )
            context = _context(message, shop_url=brand_of(message.merchant).shop_url)
            return render(request, "portals/member/unsubscribed.html", context)
        done = services.message_is_opted_out(message=message)
        return render(request, "portals/member/unsubscribe.html", _context(message, already=done))


@require_GET
def message_open(request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
    """The message's link: marks it opened (the first time) and leads to the shop; ``to``
    may name a path on the shop's host, nothing else."""
    message = _message(merchant_slug, token)
    if message is None:
        return _not_found(request, merchant_slug)
    destination = services.message_destination(
        shop_url=brand_of(message.merchant).shop_url, path=request.GET.get("to", "")
    )
    services.message_opened(message=message, now=timezone.now())
    if not destination:
        return _not_found(request, merchant_slug)
    return HttpResponseRedirect(destination)


@require_GET
def member_brand_stylesheet(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    """The merchant's colour for the member pages (a file: no inline style)."""
    merchant = Merchant.objects.filter(slug=merchant_slug).first()
    if merchant is None:
        raise Http404("No such merchant.")
    brand = MerchantBrand.objects.filter(merchant=merchant).first()
    response = HttpResponse(
        brand_css(brand.colour if brand is not None else ""), content_type="text/css; charset=utf-8"
    )
    response["Cache-Control"] = "max-age=300"
    return response
