"""The member portal's rewards: the catalog as the store API lists it for this member
(``GET /api/v1/rewards/``: their country, their tier, prices under the program's terms
now, affordable or not), the redeem flow, and "My rewards".

Redeeming is three steps, none needing JavaScript: the reward's page takes the value and
the delivery details the reward needs; a valid form shows a confirmation with the exact
price; its button redeems through ``fulfillment.services.redemptions.redemption_create``,
the service the API uses, then redirects to the redemption's page. The confirmation
carries a random key that becomes the redemption's ``external_id`` (prefixed with the
member's id), so a second click, a reload or a second tab replays the first redemption
instead of spending twice.

A delivered code is shown through the claim page (``fulfillment.claim_page``), where
every showing is recorded, or in the PDF voucher. Both need a recent sign-in
(``settings.MEMBER_CODES_SIGNIN_MINUTES``): a session left open on a shared computer
does not give the codes away.
"""

import re
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog import denominations
from catalog import selectors as catalog_selectors
from catalog import services as catalog_services
from catalog.models import MerchantCatalogItem, RewardType
from core.actors import Actor
from core.exceptions import DomainError, InvalidTransition
from fulfillment.claim_page import PRIVATE_HEADERS
from fulfillment.exceptions import (
    InvalidDenomination,
    InvalidRecipient,
    OutOfStock,
    RedemptionLimitReached,
    RewardNotAvailable,
)
from fulfillment.models import DeliveryStatus, Redemption, RedemptionStatus
from fulfillment.recipients import ADDRESS_FIELDS, phone_display, phone_example
from fulfillment.recipients import validate as validate_recipient
from fulfillment.services import redemptions
from fulfillment.services.delivery import (
    PDF_REWARD_TYPES,
    claim_open,
    claim_token,
)
from fulfillment.vouchers import voucher_pdf
from loyalty.exceptions import (
    IdempotencyConflict,
    InsufficientPoints,
    MemberNotActive,
    NoActiveProgram,
)
from loyalty.program_config import program_config
from portals import formatting
from portals.member_session import local_date, member_page, member_render, signed_in_at
from portals.views.member_signin import EmailForm

REWARDS_PAGE_SIZE = 12
MY_REWARDS_PAGE_SIZE = 10
# What the member's own redemptions' timelines record as who acted.
PORTAL_MEMBER = Actor(kind="member", name="member (member portal)")
# The confirmation's key: what ``secrets.token_urlsafe(18)`` makes, and a little room.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,40}")

TYPE_FILTERS = [
    ("", gettext_lazy("Everything")),
    (RewardType.GIFT_CARD, gettext_lazy("Gift cards")),
    (RewardType.VOUCHER, gettext_lazy("Vouchers")),
    (RewardType.PHYSICAL, gettext_lazy("Things we post")),
    (RewardType.DONATION, gettext_lazy("Donations")),
    (RewardType.EXPERIENCE, gettext_lazy("Experiences")),
]
ADDRESS_LABELS = {
    "name": gettext_lazy("Full name"),
    "line1": gettext_lazy("Address"),
    "line2": gettext_lazy("Apartment, suite, etc. (optional)"),
    "city": gettext_lazy("City"),
    "region": gettext_lazy("State, province or region (optional)"),
    "postal_code": gettext_lazy("Postal code"),
}
ADDRESS_AUTOCOMPLETE = {
    "name": "name",
    "line1": "address-line1",
    "line2": "address-line2",
    "city": "address-level2",
    "region": "address-level1",
    "postal_code": "postal-code",
}
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


def _rewards_url(request: HttpRequest) -> str:
    return reverse("member:rewards", kwargs={"merchant_slug": request.merchant.slug})


def _reward_url(request: HttpRequest, reward_id: int) -> str:
    return reverse(
        "member:reward", kwargs={"merchant_slug": request.merchant.slug, "reward_id": reward_id}
    )


def redemption_url(request: HttpRequest, redemption: Redemption) -> str:
    return reverse(
        "member:my_reward",
        kwargs={"merchant_slug": request.merchant.slug, "public_id": redemption.public_id},
    )


def _program(request: HttpRequest):
    """The program as the API prices with (the cached configuration's), or None."""
    merchant = request.merchant
    try:
        return program_config(merchant_id=merchant.pk, version=merchant.config_version).program
    except NoActiveProgram:
        return None


def _image(item: MerchantCatalogItem):
    """The reward's picture, else its brand's card, else None (the page draws a tile)."""
    reward = item.reward
    return reward.image or reward.brand.card_image or None


@dataclass(frozen=True)
class Choice:
    """One value a member may pick: its face value, its price, and whether they can
    afford it."""

    value: str  # canonical, as the form sends it
    label: str  # "$25.00"
    points: int
    affordable: bool


def _card(request: HttpRequest, priced: catalog_selectors.MemberReward) -> dict:
    item, reward = priced.item, priced.item.reward
    return {
        "id": item.reward_id,
        "name": reward.name,
        "brand": reward.brand.name,
        "image": _image(item),
        "type": reward.get_type_display(),
        "min_points": priced.min_points,
        "max_points": priced.max_points,
        "affordable": priced.affordable,
        "short": max(priced.min_points - priced.balance, 0),
        "url": _reward_url(request, item.reward_id),
    }


def _rewards_query(kind: str, within: bool, page: int | None = None) -> str:
    pairs = (("type", kind), ("within", "1" if within else ""))
    params = {name: value for name, value in pairs if value}
    if page:
        params["page"] = str(page)
    return urlencode(params)


@require_GET
@member_page
def member_rewards(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    """The rewards the member can redeem, cheapest first, 12 a page; by type, and only
    those within their points."""
    member, program = request.member, _program(request)
    kind = request.GET.get("type", "")
    if kind not in {value for value, _label in TYPE_FILTERS}:
        kind = ""
    within = request.GET.get("within") == "1"
    cards, page = [], None
    if program is not None:
        items = catalog_selectors.catalog_for_member(
            merchant=request.merchant,
            member=member,
            filters=catalog_selectors.RewardFilters(
                type=kind or None, max_points=member.points_balance if within else None
            ),
        ).select_related("reward__brand")
        page = Paginator(items, REWARDS_PAGE_SIZE).get_page(request.GET.get("page"))
        priced = catalog_selectors.member_rewards(items=list(page), member=member, program=program)
        cards = [_card(request, reward) for reward in priced]
    return member_render(
        request,
        "rewards.html",
        "rewards",
        cards=cards,
        page=page,
        kind=kind,
        within=within,
        filters=[(value, label, _rewards_query(value, within)) for value, label in TYPE_FILTERS],
        within_query=_rewards_query(kind, not within),
        previous_query=_rewards_query(kind, within, page.previous_page_number())
        if page and page.has_previous()
        else "",
        next_query=_rewards_query(kind, within, page.next_page_number())
        if page and page.has_next()
        else "",
    )


def affordable_cards(request: HttpRequest, *, limit: int) -> list[dict]:
    """Up to ``limit`` rewards the member can get now, the dearest first: what their
    points reach furthest (the home page's "You can get these now")."""
    program = _program(request)
    if program is None:
        return []
    items = catalog_selectors.catalog_for_member(
        merchant=request.merchant,
        member=request.member,
        filters=catalog_selectors.RewardFilters(max_points=request.member.points_balance),
    ).order_by("-min_points", "reward_id")[:limit]
    priced = catalog_selectors.member_rewards(
        items=list(items), member=request.member, program=program
    )
    return [_card(request, reward) for reward in priced if reward.affordable]


# -- one reward, and redeeming it --------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """A reward the member can redeem, priced for them."""

    item: MerchantCatalogItem
    priced: catalog_selectors.MemberReward
    program: object
    country: str

    @property
    def reward(self):
        return self.item.reward

    @property
    def fields(self) -> list[str]:
        return list(self.reward.recipient_fields)

    def price(self, value: Decimal) -> int:
        return catalog_services.unit_price(item=self.item, program=self.program, value=value)

    def choices(self) -> list[Choice]:
        currency = self.reward.face_currency
        return [
            Choice(
                value=row["value"],
                label=formatting.money(Decimal(row["value"]), currency),
                points=row["points"],
                affordable=row["affordable"],
            )
            for row in self.priced.denominations
        ]


def _offer(request: HttpRequest, reward_id: int) -> Offer | None:
    """The reward as ``GET /rewards/{id}/`` gives it to this member, or None when they
    cannot redeem it (not in their catalog, country or tier, or out of stock)."""
    program = _program(request)
    if program is None or reward_id > 2**63 - 1:
        return None
    item = (
        catalog_selectors.catalog_for_member(merchant=request.merchant, member=request.member)
        .filter(reward_id=reward_id)
        .select_related("reward__brand")
        .first()
    )
    if item is None:
        return None
    [priced] = catalog_selectors.member_rewards(
        items=[item], member=request.member, program=program
    )
    country = catalog_selectors.member_country(merchant=request.merchant, member=request.member)
    return Offer(item=item, priced=priced, program=program, country=country)


class RedeemForm(forms.Form):
    """The value and the delivery details one reward needs; the details are checked by
    the rules the redemption service applies (``fulfillment.recipients``), and each
    problem is told next to its field in the member's language."""

    value = forms.CharField(max_length=20)
    email = forms.CharField(label=gettext_lazy("Email address"), max_length=254, required=False)
    phone = forms.CharField(
        label=gettext_lazy("Mobile phone number"), max_length=32, required=False
    )

    def __init__(self, *args, offer: Offer, balance: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.offer, self.balance = offer, balance
        self.rule = denominations.of_reward(offer.reward)
        for name in ADDRESS_FIELDS[:-1]:  # the country is the member's, not a choice
            self.fields[name] = forms.CharField(
                label=ADDRESS_LABELS[name], max_length=120, required=False
            )
            self.fields[name].widget.attrs["autocomplete"] = ADDRESS_AUTOCOMPLETE[name]
        self.fields["email"].widget.attrs.update(autocomplete="email", inputmode="email")
        self.fields["phone"].widget.attrs.update(autocomplete="tel", inputmode="tel")
        needed = set(offer.fields)
        if "email" not in needed:
            del self.fields["email"]
        if "phone" not in needed:
            del self.fields["phone"]
        if "postal_address" not in needed:
            for name in ADDRESS_FIELDS[:-1]:
                del self.fields[name]
        self.points = 0
        self.recipient: dict = {}

    @property
    def address_fields(self) -> list:
        return [self[name] for name in ADDRESS_FIELDS[:-1] if name in self.fields]

    @property
    def country_name(self) -> str:
        return formatting.country(self.offer.country)

    @property
    def phone_example(self) -> str:
        return phone_example(self.offer.country)

    def clean_value(self) -> Decimal:
        value = denominations.parse_value(self.cleaned_data["value"])
        if value is None or not self.rule.allows(value):
            if self.rule.kind == "fixed":
                raise forms.ValidationError(_("Choose one of the values."))
            currency = self.rule.currency
            raise forms.ValidationError(
                _("Choose an amount from %(min)s to %(max)s, in steps of %(step)s.")
                % {
                    "min": formatting.money(self.rule.minimum, currency),
                    "max": formatting.money(self.rule.maximum, currency),
                    "step": formatting.money(self.rule.step, currency),
                }
            )
        self.points = self.offer.price(value)
        if self.points > self.balance:
            raise forms.ValidationError(
                _("This one costs %(points)s: you have %(balance)s.")
                % {
                    "points": formatting.points(self.points),
                    "balance": formatting.points(self.balance),
                }
            )
        return value

    def clean(self) -> dict:
        data = super().clean()
        sent = {name: data.get(name, "") for name in self.fields if name != "value"}
        recipient = {
            "email": sent.get("email", ""),
            "phone": sent.get("phone", ""),
            "postal_address": {
                **{name: sent.get(name, "") for name in ADDRESS_FIELDS[:-1] if name in sent},
                "country": self.offer.country,
            },
        }
        cleaned, errors = validate_recipient(self.offer.fields, recipient, self.offer.country)
        for key in errors:
            name = key.rsplit(".", 1)[-1]
            if name not in self.fields:
                # Nothing the member typed: the reward cannot be sent where they are.
                self.add_error(None, _("This reward cannot be delivered to your country."))
            elif name not in self.errors:
                self.add_error(name, self._problem(name, sent.get(name, "")))
        self.recipient = cleaned
        return data

    def _problem(self, name: str, given: str) -> str:
        country = self.country_name
        if name == "email":
            return _("Enter an email address, like name@example.com.")
        if name == "phone":
            return _("Enter a mobile number of %(country)s, like %(example)s.") % {
                "country": country,
                "example": self.phone_example,
            }
        if not given:
            return str(forms.Field.default_error_messages["required"])
        if name == "postal_code":
            return _("Enter a postal code of %(country)s.") % {"country": country}
        return _("Use at most 120 characters.")

    def recipient_lines(self) -> list[str]:
        """The delivery details as the confirmation shows them."""
        return recipient_lines(self.recipient)


def recipient_lines(recipient: dict) -> list[str]:
    lines = [recipient["email"]] if recipient.get("email") else []
    if recipient.get("phone"):
        lines.append(phone_display(recipient["phone"]))
    address = recipient.get("postal_address") or {}
    if address:
        lines += [address[name] for name in ("name", "line1", "line2") if address.get(name)]
        lines.append(
            " ".join(part for part in (address.get("postal_code"), address.get("city")) if part)
        )
        if address.get("region"):
            lines.append(address["region"])
        lines.append(formatting.country(address.get("country", "")))
    return lines


def _initial(request: HttpRequest, offer: Offer) -> dict:
    member = request.member
    name = " ".join(part for part in (member.first_name, member.last_name) if part)
    choices = offer.choices()
    affordable = [choice.value for choice in choices if choice.affordable]
    value = affordable[-1] if affordable else ""
    if offer.priced.rule.kind != "fixed":
        value = denominations.canonical(offer.priced.rule.minimum, offer.reward.face_currency)
    return {"value": value, "email": member.email, "name": name}


def _limits(item: MerchantCatalogItem) -> str:
    per_month, ever = item.limit_per_month, item.limit_ever
    parts = []
    if per_month:
        parts.append(_("up to %(count)s a month") % {"count": formatting.number(per_month)})
    if ever:
        parts.append(_("up to %(count)s in all") % {"count": formatting.number(ever)})
    return ", ".join(parts)


def _reward_page(
    request: HttpRequest,
    offer: Offer,
    form: RedeemForm,
    *,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    reward, rule = offer.reward, offer.priced.rule
    range_ = None
    if rule.kind != "fixed":
        range_ = {
            "min": denominations.canonical(rule.minimum, rule.currency),
            "max": denominations.canonical(rule.maximum, rule.currency),
            "step": denominations.canonical(rule.step, rule.currency),
            "min_label": formatting.money(rule.minimum, rule.currency),
            "max_label": formatting.money(rule.maximum, rule.currency),
            "min_points": offer.priced.min_points,
            "max_points": offer.priced.max_points,
        }
    response = member_render(
        request,
        "reward.html",
        "rewards",
        offer=offer,
        reward=reward,
        brand=reward.brand,
        image=_image(offer.item),
        choices=offer.choices(),
        range=range_,
        currency=rule.currency,
        limits=_limits(offer.item),
        form=form,
        error=error,
        affordable=offer.priced.affordable,
        short=max(offer.priced.min_points - request.member.points_balance, 0),
        expiry_months=reward.delivered_expiry_months,
    )
    response.status_code = status
    return response


def _missing(request: HttpRequest) -> HttpResponse:
    response = member_render(request, "reward_missing.html", "rewards")
    response.status_code = 404
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@member_page
def member_reward(request: HttpRequest, merchant_slug: str, reward_id: int) -> HttpResponse:
    """GET: the reward, its values and prices, and the form. POST: the form checked; a
    good one gets the confirmation, nothing redeemed yet."""
    offer = _offer(request, reward_id)
    if offer is None:
        return _missing(request)
    balance = request.member.points_balance
    if request.method != "POST":
        form = RedeemForm(initial=_initial(request, offer), offer=offer, balance=balance)
        return _reward_page(request, offer, form)
    form = RedeemForm(request.POST, offer=offer, balance=balance)
    if not form.is_valid():
        return _reward_page(request, offer, form, status=400)
    if request.POST.get("edit"):  # "Change" on the confirmation: the form as filled in
        return _reward_page(request, offer, form)
    return member_render(
        request,
        "reward_confirm.html",
        "rewards",
        offer=offer,
        reward=offer.reward,
        image=_image(offer.item),
        form=form,
        value=formatting.money(form.cleaned_data["value"], offer.reward.face_currency),
        points=form.points,
        after=balance - form.points,
        lines=form.recipient_lines(),
        key=secrets.token_urlsafe(18),
    )


def _portal_external_id(request: HttpRequest, key: str) -> str:
    return f"portal-{request.member.pk}-{key}"


@require_POST
@member_page
def member_redeem(request: HttpRequest, merchant_slug: str, reward_id: int) -> HttpResponse:
    """The confirmation's button: redeem, through the API's service, once per key."""
    key = request.POST.get("key", "")
    if not KEY_PATTERN.fullmatch(key):
        return HttpResponseRedirect(_reward_url(request, reward_id), status=303)
    external_id = _portal_external_id(request, key)
    earlier = Redemption.objects.filter(
        merchant=request.merchant, member=request.member, external_id=external_id
    ).first()
    if earlier is not None:  # a second click or a reload: the first one's result
        return HttpResponseRedirect(redemption_url(request, earlier), status=303)
    offer = _offer(request, reward_id)
    if offer is None:
        return _missing(request)
    balance = request.member.points_balance
    form = RedeemForm(request.POST, offer=offer, balance=balance)
    if not form.is_valid():
        return _reward_page(request, offer, form, status=400)
    try:
        recorded = redemptions.redemption_create(
            merchant=request.merchant,
            data=redemptions.RedemptionInput(
                member_external_id=request.member.external_id,
                reward_id=offer.item.reward_id,
                value=form.cleaned_data["value"],
                recipient=form.recipient,
                external_id=external_id,
            ),
            actor=PORTAL_MEMBER,
        )
    except IdempotencyConflict:
        earlier = Redemption.objects.filter(
            merchant=request.merchant, member=request.member, external_id=external_id
        ).first()
        if earlier is None:
            return _missing(request)
        return HttpResponseRedirect(redemption_url(request, earlier), status=303)
    except (RewardNotAvailable, NoActiveProgram, MemberNotActive):
        return _missing(request)
    except (InsufficientPoints, OutOfStock, RedemptionLimitReached, DomainError) as error:
        return _reward_page(
            request, offer, form, status=_refusal_status(error), error=_refusal(error)
        )
    return HttpResponseRedirect(
        redemption_url(request, recorded.obj) + "?" + urlencode({"new": "1"}), status=303
    )


def _refusal(error: DomainError) -> str:
    if isinstance(error, InsufficientPoints):
        return _("You no longer have enough points for this one.")
    if isinstance(error, OutOfStock):
        return _("This one has just run out. Choose another value, or try again later.")
    if isinstance(error, RedemptionLimitReached):
        return _("You have reached the limit for this reward. It opens again next month.")
    if isinstance(error, (InvalidDenomination, InvalidRecipient)):
        return _("Check the form: something in it changed.")
    return _("This reward could not be redeemed now. Please try again.")


def _refusal_status(error: DomainError) -> int:
    return 400 if isinstance(error, (InvalidDenomination, InvalidRecipient)) else 409


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
    redemptions_ = (
        _own_redemptions(request).select_related("reward__brand").order_by("-created_at", "-id")
    )
    page = Paginator(redemptions_, MY_REWARDS_PAGE_SIZE).get_page(request.GET.get("page"))
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
        return _missing(request)
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
        return redemption, _missing(request)
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
