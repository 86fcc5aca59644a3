"""The member portal's rewards: the catalog as the store API lists it for this member
(``GET /api/v1/rewards/``: their country, their tier, prices under the program's terms
now, affordable or not) and the redeem flow; the member's redemptions and their codes are
``member_my_rewards``'s.

Redeeming is three steps, none needing JavaScript: the reward's page takes the value and
the delivery details the reward needs; a valid form shows a confirmation with the exact
price; its button redeems through ``fulfillment.services.redemptions.redemption_create``,
the service the API uses, then redirects to the redemption's page. The confirmation
carries a random key that becomes the redemption's ``external_id`` (prefixed with the
member's id), so a second click, a reload or a second tab replays the first redemption
instead of spending twice.
"""

import re
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog import denominations
from catalog import selectors as catalog_selectors
from catalog import services as catalog_services
from catalog.models import MerchantCatalogItem, RewardType
from core import formatting
from core.actors import Actor
from core.exceptions import DomainError
from fulfillment.exceptions import (
    InvalidDenomination,
    InvalidRecipient,
    OutOfStock,
    RedemptionLimitReached,
    RewardNotAvailable,
)
from fulfillment.models import Redemption
from fulfillment.recipients import ADDRESS_FIELDS, phone_display, phone_example
from fulfillment.recipients import validate as validate_recipient
from fulfillment.services import redemptions
from loyalty.exceptions import (
    IdempotencyConflict,
    InsufficientPoints,
    MemberNotActive,
    NoActiveProgram,
)
from loyalty.program_config import program_config
from portals.member_session import member_page, member_render

REWARDS_PAGE_SIZE = 12
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


def reward_missing(request: HttpRequest) -> HttpResponse:
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
        return reward_missing(request)
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
        return reward_missing(request)
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
            return reward_missing(request)
        return HttpResponseRedirect(redemption_url(request, earlier), status=303)
    except (RewardNotAvailable, NoActiveProgram, MemberNotActive):
        return reward_missing(request)
    except DomainError as error:  # its status is the API's for the same refusal
        return _reward_page(request, offer, form, status=error.status, error=_refusal(error))
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
