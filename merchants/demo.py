"""Demo data for the development run: merchants at each onboarding stage in several
countries and currencies, their stores, fee plans and billing profiles, an ops superuser,
and last month's invoice of each live merchant (drafted after the other apps' demo data,
so that it bills their usage)."""

import datetime
import secrets
from decimal import Decimal
from typing import TextIO

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from core.exceptions import DomainError
from core.hooks import app_hooks
from merchants import invoices
from merchants.models import (
    BillingProfile,
    ChecklistItem,
    InvoiceStatus,
    Merchant,
    MerchantAPIKey,
    MerchantStatus,
    Scope,
)
from merchants.selectors import merchant_transition_path
from merchants.services import api_keys, billing, lifecycle, stores

DEMO_KEY_NAME = "Demo key (development run)"
DEMO = Actor.system("demo")

DEMO_MERCHANTS = [
    {
        "slug": "northwind",
        "billing": ("120 Harbor Street\nPortland, ME 04101", "EIN 12-3456789", "0"),
        "name": "Northwind Outfitters",
        "legal_name": "Northwind Outfitters LLC",
        "country": "US",
        "currency": "USD",
        "timezone": "America/New_York",
        "status": MerchantStatus.LIVE,
        "stores": [("Northwind Shopify", "shopify", "northwind-outfitters.myshopify.com")],
        "fees": ("499.00", "0.0150", "0.25", "8.000"),
    },
    {
        "slug": "maison-lumiere",
        "billing": ("12 rue de la Paix\n75002 Paris", "FR40123456824", "20"),
        "name": "Maison Lumière",
        "legal_name": "Maison Lumière SAS",
        "country": "FR",
        "currency": "EUR",
        "timezone": "Europe/Paris",
        "status": MerchantStatus.LIVE,
        "stores": [
            ("Boutique en ligne", "woocommerce", "boutique.maison-lumiere.fr"),
            ("Outlet", "magento", "outlet.maison-lumiere.fr"),
        ],
        "fees": ("399.00", "0.0120", "0.20", "7.500"),
    },
    {
        "slug": "sakura-tea",
        "billing": ("1-2-3 Jingumae, Shibuya-ku\nTokyo 150-0001", "T1234567890123", "10"),
        "name": "Sakura Tea Co.",
        "legal_name": "Sakura Tea Co., Ltd.",
        "country": "JP",
        "currency": "JPY",
        "timezone": "Asia/Tokyo",
        "status": MerchantStatus.APPROVED,
        "stores": [("Sakura Tea", "shopify", "sakura-tea.myshopify.com")],
        "fees": ("60000", "2.0000", "30.00", "9.000"),
    },
    {
        "slug": "fjord-gear",
        "name": "Fjord Gear",
        "legal_name": "Fjord Gear AS",
        "country": "NO",
        "currency": "NOK",
        "timezone": "Europe/Oslo",
        "status": MerchantStatus.IN_REVIEW,
        "stores": [("Fjord Gear", "lightspeed", "shop.fjordgear.no")],
        "fees": None,
    },
    {
        "slug": "kiwi-crafts",
        "name": "Kiwi Crafts",
        "legal_name": "Kiwi Crafts Limited",
        "country": "NZ",
        "currency": "NZD",
        "timezone": "Pacific/Auckland",
        "status": MerchantStatus.APPLIED,
        "stores": [],
        "fees": None,
    },
    {
        "slug": "desert-bloom",
        "billing": ("Office 1204, Al Saqr Tower\nDubai", "100234567800003", "5"),
        "name": "Desert Bloom Perfumes",
        "legal_name": "Desert Bloom Perfumes LLC",
        "country": "AE",
        "currency": "AED",
        "timezone": "Asia/Dubai",
        "status": MerchantStatus.SUSPENDED,
        "stores": [("Desert Bloom", "custom", "www.desertbloom.ae")],
        "fees": ("1800.00", "0.0500", "1.00", "8.000"),
    },
]


def _seed_merchant(spec: dict) -> Merchant:
    merchant = lifecycle.merchant_create(
        name=spec["name"],
        slug=spec["slug"],
        country=spec["country"],
        default_currency=spec["currency"],
        legal_name=spec["legal_name"],
        timezone_name=spec["timezone"],
        contact_email=f"loyalty@{spec['slug']}.example",
        actor=DEMO,
    )
    for name, platform, domain in spec["stores"]:
        stores.store_create(
            merchant=merchant, name=name, platform=platform, domain=domain, actor=DEMO
        )
    if spec["fees"]:
        monthly, per_member, per_redemption, margin = spec["fees"]
        billing.fee_plan_create(
            merchant=merchant,
            valid_from=datetime.date(2026, 1, 1),
            monthly_platform_fee=Decimal(monthly),
            fee_per_active_member=Decimal(per_member),
            fee_per_redemption=Decimal(per_redemption),
            reward_margin_percent=Decimal(margin),
            actor=DEMO,
        )
    for step in merchant_transition_path(
        from_status=MerchantStatus.APPLIED, to_status=spec["status"]
    ):
        if step == MerchantStatus.APPROVED:
            for item in (ChecklistItem.BUSINESS_VERIFIED, ChecklistItem.CONTRACT_SIGNED):
                lifecycle.checklist_item_complete(
                    merchant=merchant, item=item, note="demo data", actor=DEMO
                )
        if step == MerchantStatus.LIVE:
            for item in ChecklistItem.values:
                lifecycle.checklist_item_complete(
                    merchant=merchant, item=item, note="demo data", actor=DEMO
                )
        reason = "demo: payment dispute" if step == MerchantStatus.SUSPENDED else "demo data"
        lifecycle.merchant_transition(merchant=merchant, to_status=step, reason=reason, actor=DEMO)
    return merchant


def _seed_billing_profiles() -> None:
    """A billing profile for each demo merchant that has none (older demo data too)."""
    for spec in DEMO_MERCHANTS:
        merchant = Merchant.objects.filter(slug=spec["slug"]).first()
        if spec.get("billing") and merchant and not hasattr(merchant, "billing_profile"):
            _seed_billing_profile(merchant, spec)


def _seed_billing_profile(merchant: Merchant, spec: dict) -> None:
    address, tax_id, rate = spec["billing"]
    invoices.billing_profile_save(
        profile=BillingProfile(
            merchant=merchant,
            legal_name=spec["legal_name"],
            address=address,
            country=spec["country"],
            tax_id=tax_id,
            is_business=True,
            tax_rate_percent=Decimal(rate),
            invoice_email=f"accounts@{spec['slug']}.example",
        ),
        changed=[],
        actor=DEMO,
    )


def _seed_last_months_invoices(out: TextIO) -> None:
    """Last month's invoice of each live demo merchant, issued (kept if it already is)."""
    year, month = invoices.previous_month(timezone.localdate())
    slugs = [spec["slug"] for spec in DEMO_MERCHANTS]
    for merchant in Merchant.objects.filter(slug__in=slugs, status=MerchantStatus.LIVE):
        try:
            invoice = invoices.invoice_draft(merchant=merchant, year=year, month=month, actor=DEMO)
            if invoice.status == InvoiceStatus.DRAFT:
                invoice = invoices.invoice_issue(invoice=invoice, actor=DEMO)
        except DomainError as error:
            out.write(f"No demo invoice for {merchant.name}: {error.detail}\n")
            continue
        out.write(f"Demo invoice {invoice.number} for {merchant.name}.\n")


def _seed_superuser(out: TextIO) -> None:
    user_model = get_user_model()
    if user_model.objects.filter(username="ops").exists():
        out.write(
            "Ops superuser: ops (its password was printed when it was created; "
            "reset it with: .venv/bin/python manage.py changepassword ops)\n"
        )
        return
    password = secrets.token_urlsafe(12)
    user_model.objects.create_superuser("ops", "ops@provider.example", password)
    out.write(f"Ops superuser created: user ops, password {password}  (shown this once)\n")


def _rotate_demo_key(merchant: Merchant) -> str:
    for old in MerchantAPIKey.objects.filter(merchant=merchant, name=DEMO_KEY_NAME, revoked=False):
        api_keys.api_key_revoke(api_key=old, reason="replaced by a new demo run", actor=DEMO)
    _, raw_key = api_keys.api_key_issue(
        merchant=merchant,
        name=DEMO_KEY_NAME,
        scopes=[Scope.READ, Scope.WRITE, Scope.ADJUST],
        actor=DEMO,
    )
    return raw_key


def seed(*, out: TextIO, base_url: str) -> None:
    with transaction.atomic():
        if Merchant.objects.filter(slug=DEMO_MERCHANTS[0]["slug"]).exists():
            out.write("Demo merchants already present: kept as they are.\n")
        else:
            for spec in DEMO_MERCHANTS:
                _seed_merchant(spec)
            out.write(f"Demo merchants created: {len(DEMO_MERCHANTS)}.\n")
        _seed_billing_profiles()
        _seed_superuser(out)
        keys = [
            (merchant, _rotate_demo_key(merchant))
            for merchant in Merchant.objects.filter(status=MerchantStatus.LIVE).order_by("name")
        ]
    # Later apps add their own demo data (programs, catalog, ...) through a hook named on
    # their AppConfig, so this app imports none of them.
    for seeder in app_hooks("demo_seed"):
        seeder(out=out)
    # Invoices bill the usage the apps above posted, so they come last.
    _seed_last_months_invoices(out)
    out.write("\nDemo API keys (new on every run; the previous ones are revoked):\n")
    for merchant, raw_key in keys:
        out.write(
            f"  {merchant.name} ({merchant.country.code}, {merchant.default_currency}): {raw_key}\n"
            f'    curl -H "Authorization: Bearer {raw_key}" {base_url}/api/v1/merchant/\n'
        )
