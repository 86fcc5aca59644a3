"""The member portal's My rewards (``/m/<merchant>/my-rewards/``): the member's
redemptions with their state and what happened when, and their codes: *Show my code*
(the claim page) and the PDF voucher, both after a sign-in of the last
``settings.MEMBER_CODES_SIGNIN_MINUTES``, else a page asking for a fresh one: a session
left open on a shared computer does not give the codes away. The claim page
(``fulfillment.claim_page``) records every showing."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from core import formatting
from core.exceptions import InvalidTransition
from fulfillment.claim_page import PRIVATE_HEADERS
from fulfillment.models import DeliveryStatus, Redemption, RedemptionStatus
from fulfillment.services.delivery import PDF_REWARD_TYPES, claim_open, claim_token
from fulfillment.vouchers import voucher_pdf
from portals.member_session import local_date, member_page, member_render, signed_in_at
from portals.views.member_rewards import (
    PORTAL_MEMBER,
    recipient_lines,
    redemption_url,
    reward_missing,
)
from portals.views.member_signin import EmailForm

MY_REWARDS_PAGE_SIZE = 10

# What the member reads of a redemption's state: one line for where it is.
STATUS_WORDS = {
    RedemptionStatus.PENDING: gettext_lazy("Being prepared"),
    RedemptionStatus.SUBMITTED: gettext_lazy("On its way"),
    RedemptionStatus.FAILED: gettext_lazy("Delayed: we are on it"),
    RedemptionStatus.DELIVERED: gettext_lazy("Delivered"),
    RedemptionStatus.REFUNDED: gettext_lazy("Not delivered: points given back"),
    RedemptionStatus.CANCELLED: gettext_lazy("Cancelled: points given back"),
}
STATUS_TONES = {
    RedemptionStatus.DELIVERED: "good",
    RedemptionStatus.REFUNDED: "neutral",
    RedemptionStatus.CANCELLED: "neutral",
    RedemptionStatus.FAILED: "warn",
}
DELIVERY_WORDS = {
    DeliveryStatus.SENT: gettext_lazy("Sent to you by email"),
    DeliveryStatus.CLAIMED: gettext_lazy("Opened"),
    DeliveryStatus.SHIPPED: gettext_lazy("Shipped"),
    DeliveryStatus.RECEIVED: gettext_lazy("Received"),
    DeliveryStatus.RETURNED: gettext_lazy("Returned to the sender"),
}


# -- my rewards ---------------------------------------------------------------------------------


def _own_redemptions(request: HttpRequest):
    return Redemption.objects.filter(merchant=request.merchant, member=request.member)


def _row(request: HttpRequest, redemption: Redemption) -> dict:
    reward = redemption.reward
    return {
        "name": reward.name,
        "brand": reward.brand.name,
        "image": reward.image or reward.brand.card_image or None,
        "value": formatting.money(redemption.face_value, redemption.face_currency),
        "quantity": redemption.quantity,
        "points": redemption.points_total,
        "status": STATUS_WORDS.get(redemption.status, ""),
        "tone": STATUS_TONES.get(redemption.status, "busy"),
        "date": local_date(request, redemption.created_at),
        "url": redemption_url(request, redemption),
        "replaced": redemption.voided_at is not None,
    }


@require_GET
@member_page
def member_my_rewards(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    newest_first = (
        _own_redemptions(request).select_related("reward__brand").order_by("-created_at", "-id")
    )
    page = Paginator(newest_first, MY_REWARDS_PAGE_SIZE).get_page(request.GET.get("page"))
    return member_render(
        request,
        "my_rewards.html",
        "my_rewards",
        page=page,
        rows=[_row(request, redemption) for redemption in page],
    )


def _own(request: HttpRequest, public_id) -> Redemption | None:
    return (
        _own_redemptions(request)
        .filter(public_id=public_id)
        .select_related("reward__brand", "reissued_as")
        .first()
    )


def _timeline(request: HttpRequest, redemption: Redemption) -> list[dict]:
    """The redemption's changes a member cares about, in words, oldest first."""
    lines, seen = [], set()
    for event in redemption.events.all():
        if event.field == "status":
            words = STATUS_WORDS.get(event.to_value)
            if event.to_value == RedemptionStatus.PENDING:
                words = _("Redeemed")
        elif event.field == "delivery":
            words = DELIVERY_WORDS.get(event.to_value)
        else:
            words = None
        if words is None or (event.field, event.to_value) in seen:
            continue
        seen.add((event.field, event.to_value))
        lines.append({"words": words, "at": local_date(request, event.at)})
    return lines


def _shows_codes(redemption: Redemption) -> bool:
    return (
        redemption.status == RedemptionStatus.DELIVERED
        and redemption.voided_at is None
        and redemption.reward.type in PDF_REWARD_TYPES
    )


@require_GET
@member_page
def member_my_reward(request: HttpRequest, merchant_slug: str, public_id) -> HttpResponse:
    redemption = _own(request, public_id)
    if redemption is None:
        return reward_missing(request)
    shipment = redemption.shipments.order_by("-id").first()
    tracking_url = ""
    if shipment is not None and shipment.tracking_url.startswith(("https://", "http://")):
        tracking_url = shipment.tracking_url
    # A reverse one-to-one with no row raises rather than answering None.
    replacement = getattr(redemption, "reissued_as", None)
    if replacement is not None and replacement.member_id != request.member.pk:
        replacement = None
    return member_render(
        request,
        "my_reward.html",
        "my_rewards",
        redemption=redemption,
        row=_row(request, redemption),
        timeline=_timeline(request, redemption),
        lines=recipient_lines(redemption.recipient or {}),
        shipment=shipment,
        tracking_url=tracking_url,
        shows_codes=_shows_codes(redemption),
        replacement_url=redemption_url(request, replacement) if replacement else "",
        new=request.GET.get("new") == "1",
        open=redemption.status in {RedemptionStatus.PENDING, RedemptionStatus.SUBMITTED},
        help_url=reverse("member:help_new", kwargs={"merchant_slug": merchant_slug})
        + f"?reward={redemption.public_id}",
    )


def _signed_in_recently(request: HttpRequest) -> bool:
    at = signed_in_at(request, merchant=request.merchant)
    limit = settings.MEMBER_CODES_SIGNIN_MINUTES * 60
    return at is not None and timezone.now().timestamp() - at <= limit


def _sign_in_again(request: HttpRequest, redemption: Redemption) -> HttpResponse:
    """The page asking for a fresh sign-in before a code is shown; the email link brings
    the member back to the reward."""
    form = EmailForm(
        initial={"email": request.member.email, "next": redemption_url(request, redemption)}
    )
    response = member_render(request, "reauth.html", "my_rewards", form=form, redemption=redemption)
    response.status_code = 403
    return response


def _codes_for(request: HttpRequest, public_id) -> tuple[Redemption, HttpResponse | None]:
    """The member's redemption whose codes they ask for, and the answer that refuses
    them, if any: another's is a 404, one without codes leads back to its page, and an
    old sign-in asks for a fresh one."""
    redemption = _own(request, public_id)
    if redemption is None:
        return redemption, reward_missing(request)
    if not _shows_codes(redemption):
        return redemption, HttpResponseRedirect(redemption_url(request, redemption), status=303)
    if not _signed_in_recently(request):
        return redemption, _sign_in_again(request, redemption)
    return redemption, None


@require_POST
@member_page
def member_reward_code(request: HttpRequest, merchant_slug: str, public_id) -> HttpResponse:
    """ "Show my code": to the claim page, where the code is shown and the showing kept,
    after a recent sign-in."""
    redemption, refused = _codes_for(request, public_id)
    if refused is not None:
        return refused
    url = reverse("claim:page", kwargs={"token": claim_token(redemption)})
    response = HttpResponseRedirect(url, status=303)
    response["Referrer-Policy"] = PRIVATE_HEADERS["Referrer-Policy"]
    return response


@require_POST
@member_page
def member_reward_voucher(request: HttpRequest, merchant_slug: str, public_id) -> HttpResponse:
    """The PDF voucher, after a recent sign-in; the codes in it are recorded as shown."""
    redemption, refused = _codes_for(request, public_id)
    if refused is not None:
        return refused
    try:
        claim_open(redemption=redemption, actor=PORTAL_MEMBER)
    except InvalidTransition:
        return HttpResponseRedirect(redemption_url(request, redemption), status=303)
    response = HttpResponse(voucher_pdf(redemption), content_type="application/pdf")
    filename = f"voucher-{str(redemption.public_id)[:8]}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    for header, value in PRIVATE_HEADERS.items():
        response[header] = value
    return response
