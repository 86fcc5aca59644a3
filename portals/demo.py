"""Demo data of the merchant portal: for each live merchant a brand (colour and logo) and
an owner, an analyst and a support user (passwords printed once, when made); then the
report aggregates built from the demo history, and last month's monthly report."""

import datetime
import secrets
from typing import TextIO

from django.contrib.auth import get_user_model
from django.db import transaction

from catalog.demo_images import draw_logo
from core.actors import Actor
from loyalty.reports.aggregates import aggregates_rebuild
from merchants.models import Merchant, MerchantBrand, MerchantMembership, MerchantStatus
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
