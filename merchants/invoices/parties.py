"""Who an invoice is from and to, and the tax that follows from it: the provider's
details (settings), the merchant's billing profile, and the profile's edits."""

from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from core.actors import Actor, actor_fields, actor_label
from merchants import invoice_rules
from merchants.models import BillingProfile, Merchant, MerchantEvent


def billing_profile_find(*, merchant: Merchant) -> BillingProfile | None:
    return BillingProfile.objects.filter(merchant=merchant).first()


def tax_terms_for(*, profile: BillingProfile | None) -> invoice_rules.TaxTerms:
    if profile is None:
        return invoice_rules.TaxTerms(rate_percent=Decimal(0))
    return invoice_rules.tax_terms(
        customer_country=profile.country.code or "",
        customer_is_business=profile.is_business,
        customer_tax_id=profile.tax_id,
        customer_rate_percent=profile.tax_rate_percent,
        provider_country=settings.PROVIDER_COUNTRY,
    )


def invoice_totals(*, subtotal: Decimal, terms: invoice_rules.TaxTerms, currency: str) -> dict:
    tax = invoice_rules.tax_amount(subtotal, terms.rate_percent, currency)
    return {
        "subtotal": subtotal,
        "tax_rate_percent": terms.rate_percent,
        "tax": tax,
        "total": subtotal + tax,
        "tax_note": terms.note,
    }


def provider_details() -> dict:
    return {
        "provider_legal_name": settings.PROVIDER_LEGAL_NAME,
        "provider_address": "\n".join(
            line.strip() for line in settings.PROVIDER_ADDRESS.split("|") if line.strip()
        ),
        "provider_country": settings.PROVIDER_COUNTRY,
        "provider_tax_id": settings.PROVIDER_TAX_ID,
    }


def customer_details(*, profile: BillingProfile) -> dict:
    return {
        "customer_legal_name": profile.legal_name,
        "customer_address": profile.address.strip(),
        "customer_country": profile.country.code or "",
        "customer_tax_id": profile.tax_id.strip(),
        "customer_email": profile.invoice_email,
    }


@transaction.atomic
def billing_profile_save(
    *, profile: BillingProfile, changed: Sequence[str], actor: Actor
) -> BillingProfile:
    """Save staff's edit of a merchant's billing profile (``profile`` carries the new
    values), with a merchant event naming the fields. Issued invoices keep the details
    they were issued with."""
    created = profile._state.adding
    profile.full_clean()
    profile.save()
    if created or changed:
        MerchantEvent.objects.create(
            merchant_id=profile.merchant_id,
            kind=MerchantEvent.Kind.DETAILS_CHANGED,
            **actor_fields(actor),
            actor_label=actor_label(actor),
            reason="Billing profile "
            + ("created" if created else "changed: " + ", ".join(changed)),
        )
    return profile
