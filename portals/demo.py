"""Demo data of the merchant portal: for each live merchant a brand (colour and logo) and
an owner, an analyst and a support user (passwords printed once, when made); then the
report aggregates built from the demo history, and last month's monthly report. Last,
the member portal's demo member made ready (a reward in My rewards, another within their
points) and their sign-in links for each live merchant."""

import datetime
import secrets
import time
from decimal import Decimal
from typing import TextIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.http import urlencode

from catalog.demo_images import draw_logo
from catalog.selectors import catalog_for_member, member_rewards
from core.actors import Actor
from fulfillment.models import Redemption
from fulfillment.services import dispatch
from fulfillment.services.redemptions import RedemptionInput, redemption_create
from integrations.widget.tokens import MAX_LIFETIME, token_make
from loyalty.ledger import points_adjust
from loyalty.models import LedgerEntry, Member, MemberStatus
from loyalty.reports.aggregates import aggregates_rebuild
from loyalty.selectors import program_active
from merchants.models import Merchant, MerchantBrand, MerchantMembership, MerchantStatus, Store
from merchants.monthly_reports import merchant_today, month_start, monthly_report_make
from merchants.services.lifecycle import merchant_brand_save
from merchants.services.team import membership_set

DEMO = Actor.system("demo")
ROLES = ("owner", "analyst", "support")
BRAND_COLOURS = {"maison-lumiere": "#7a1f3d", "northwind": "#1f5f3a"}


def _brand(merchant: Merchant) -> None:
    colour = BRAND_COLOURS.get(merchant.slug)
    if colour is None or MerchantBrand.objects.filter(merchant=merchant).exists():
        return
    logo = draw_logo(merchant.name, colour, size=160)
    brand = MerchantBrand(merchant=merchant, colour=colour)
    brand.logo.save(f"{merchant.slug}.png", logo, save=False)
    merchant_brand_save(brand=brand, changed=["colour", "logo"], actor=DEMO)


def _portal_user(merchant: Merchant, role: str) -> tuple[str, str | None]:
    """The demo user of ``role`` on ``merchant``'s team: its email, and its password when
    it was made now."""
    User = get_user_model()
    email = f"{role}@{merchant.slug}.example"
    user = User.objects.filter(email=email).first()
    password = None
    if user is None:
        password = secrets.token_urlsafe(12)
        user = User.objects.create_user(username=email, email=email, password=password)
    if not MerchantMembership.objects.filter(merchant=merchant, user=user).exists():
        membership_set(merchant=merchant, user=user, role=role, actor=DEMO)
    return email, password


def seed(*, out: TextIO) -> None:
    live = list(Merchant.objects.filter(status=MerchantStatus.LIVE).order_by("name"))
    logins = []
    with transaction.atomic():
        for merchant in live:
            _brand(merchant)
            for role in ROLES:
                logins.append((merchant, role, *_portal_user(merchant, role)))
    ready = sum(_portal_member_ready(merchant) for merchant in live)
    if ready:
        # Delivered now rather than at the worker's next round: My rewards shows the code.
        dispatch.process_due(now=timezone.now())
        out.write(f"Member portal demo members given a reward and points for another: {ready}.\n")
    result = aggregates_rebuild()
    out.write(f"Report aggregates built: {result}.\n")
    made = 0
    for merchant in live:
        last_month = month_start(
            month_start(merchant_today(merchant=merchant)) - datetime.timedelta(days=1)
        )
        if not merchant.reports.filter(month=last_month).exists():
            monthly_report_make(merchant=merchant, month=last_month, final=True, actor=DEMO)
            made += 1
    if made:
        out.write(f"Monthly reports made for last month: {made}.\n")
    out.write(
        "\nMerchant portal (/portal/login/): owners set up an authenticator app at first sign-in.\n"
    )
    for merchant, role, email, password in logins:
        shown = password or "(kept from an earlier run)"
        out.write(f"  {merchant.name}, {role}: {email}  password {shown}\n")
    member_portal_links(out=out, base_url=settings.PUBLIC_BASE_URL)


# The demo member to sign in as: the one with orders in a streak, a tier and achievements
# under way (loyalty.achievements.demo), else the member with the most points.
PORTAL_MEMBER = "{slug}-cust-streak"


def _portal_member(merchant: Merchant) -> Member | None:
    members = Member.objects.filter(merchant=merchant, status=MemberStatus.ACTIVE)
    return (
        members.filter(external_id=PORTAL_MEMBER.format(slug=merchant.slug)).first()
        or members.exclude(email="").order_by("-lifetime_points", "pk").first()
    )


def _portal_member_ready(merchant: Merchant) -> bool:
    """The demo member has a reward in My rewards and can get another now: the team's
    welcome gift covers twice the cheapest reward sent by email, and one of them is
    redeemed (the worker delivers it). Once: False when done before or not possible."""
    member = _portal_member(merchant)
    program = program_active(merchant=merchant)
    if member is None or program is None or not member.email:
        return False
    external_id = f"{member.external_id}-portal-demo"
    if Redemption.objects.filter(merchant=merchant, external_id=external_id).exists():
        return False
    items = [
        item
        for item in catalog_for_member(merchant=merchant, member=member)[:20]
        if set(item.reward.recipient_fields) <= {"email"}
    ]
    if not items:
        return False
    [cheapest] = member_rewards(items=items[:1], member=member, program=program)
    value, points = min(cheapest.prices.items(), key=lambda pair: pair[1])
    with transaction.atomic():
        gift = 2 * points + points // 2
        points_adjust(
            member=member,
            points=gift,
            reason="A welcome gift from the team",
            at=timezone.now(),
            expires_at=None,
            source_type=LedgerEntry.Source.STAFF,
            actor=DEMO,
        )
        redemption_create(
            merchant=merchant,
            data=RedemptionInput(
                member_external_id=member.external_id,
                reward_id=cheapest.item.reward_id,
                value=Decimal(value),
                recipient={"email": member.email},
                external_id=external_id,
            ),
            actor=DEMO,
        )
    return True


def member_portal_links(*, out: TextIO, base_url: str, now: float | None = None) -> None:
    """For each live merchant, a store sign-in link for its demo member (the store's
    signature, as its backend would make it) and the email sign-in page with the member's
    address. A store link lives ten minutes at most; after that, the email link (printed
    by the console email backend) signs in."""
    now = time.time() if now is None else now
    expires = int(now + MAX_LIFETIME.total_seconds())
    lines = []
    for merchant in Merchant.objects.filter(status=MerchantStatus.LIVE).order_by("name"):
        member = _portal_member(merchant)
        store = Store.objects.filter(merchant=merchant, is_active=True).order_by("pk").first()
        if member is None:
            continue
        lines.append(f"  {merchant.name}: {member.first_name or member.external_id}")
        if store is not None:
            token = token_make(
                secret=store.webhook_secret,
                store_public_id=store.public_id,
                external_id=member.external_id,
                expires=expires,
            )
            query = urlencode({"store": str(store.public_id), "token": token})
            lines.append(f"    from the store: {base_url}/m/{merchant.slug}/login/store?{query}")
        lines.append(
            f"    by email:       {base_url}/m/{merchant.slug}/login/  with {member.email}"
        )
    if lines:
        out.write(
            "\nMember portal (/m/<merchant>/): the store links work for ten minutes; after "
            "that, ask for a link by email (the email shows in this console).\n"
        )
        out.write("\n".join(lines) + "\n")
