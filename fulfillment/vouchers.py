"""What a member sees of a delivered redemption (brand, value, codes, expiry, how to use
it, terms) in their own locale, for the claim page, and as a PDF voucher.

The PDF is drawn by WeasyPrint from ``fulfillment/voucher.html`` with no network: the
brand logo is read through its storage and embedded as a data URI, the QR codes are
inline SVG, and the fetcher refuses every other kind of URL.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import segno
from babel.numbers import format_currency
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from core.documents import image_data_uri
from core.i18n import supported_language
from core.money import quantize_money
from fulfillment.models import DeliveredCode, Redemption
from loyalty.models import Member


def member_language(member: Member) -> str:
    return supported_language(member.locale)


def money_display(amount: Decimal, currency: str, language: str) -> str:
    """``25,00 $US`` for a French reader, ``$25.00`` for an English one."""
    return format_currency(
        quantize_money(amount, currency), currency, locale=translation.to_locale(language)
    )


def code_expiry(code: DeliveredCode, redemption: Redemption) -> datetime.date | None:
    """The supplier's expiry date, else the reward's validity counted from delivery."""
    if code.expires_on is not None:
        return code.expires_on
    months = redemption.reward.delivered_expiry_months
    if months and redemption.delivered_at is not None:
        return (redemption.delivered_at + relativedelta(months=months)).date()
    return None


def qr_svg(text: str) -> SafeString:
    """The text as a QR code, an inline ``<svg>`` element (segno escapes nothing into it
    but its own path data)."""
    return mark_safe(  # noqa: S308 - segno's own markup, no user text in it
        segno.make(text, error="m", micro=False).svg_inline(scale=4, border=2, omitsize=False)
    )


@dataclass(frozen=True)
class VoucherCode:
    code: str
    pin: str
    claim_url: str
    expires_on: datetime.date | None
    qr: SafeString


def voucher_context(redemption: Redemption, codes: list[DeliveredCode]) -> dict[str, Any]:
    """The template context of the claim page and the PDF; call it inside
    ``translation.override(member_language(...))`` so the catalog texts are the member's."""
    reward = redemption.reward
    brand = reward.brand
    language = translation.get_language() or settings.LANGUAGE_CODE
    return {
        "redemption": redemption,
        "merchant_name": redemption.merchant.name,
        "brand_name": brand.name,
        "reward_name": reward.name,
        "reward_type": reward.type,
        "value": money_display(redemption.face_value, redemption.face_currency, language),
        "quantity": redemption.quantity,
        "codes": [
            VoucherCode(
                code=code.code,
                pin=code.pin,
                claim_url=code.claim_url,
                expires_on=code_expiry(code, redemption),
                qr=qr_svg(code.code),
            )
            for code in codes
        ],
        "instructions": brand.redemption_instructions,
        "terms": [text for text in (reward.terms, brand.terms) if text],
        "disclaimer": brand.disclaimer,
        "language": language,
        "text_direction": "rtl" if translation.get_language_bidi() else "ltr",
    }


def voucher_pdf(redemption: Redemption) -> bytes:
    """The PDF voucher of a delivered redemption, in the member's locale."""
    codes = list(redemption.codes.all())
    with translation.override(member_language(redemption.member)):
        context = voucher_context(redemption, codes)
        context["logo"] = image_data_uri(redemption.reward.brand.logo)
        html = render_to_string("fulfillment/voucher.html", context)
    document = HTML(
        string=html,
        base_url=str(settings.MEDIA_ROOT),
        url_fetcher=URLFetcher(allowed_protocols=("data",), timeout=1),
    )
    return document.write_pdf()
