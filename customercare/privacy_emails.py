"""The emails of a member's privacy requests, in the merchant's brand and the member's
language, an HTML part and a plain-text part: the link to their data archive, and the
answer to their request to delete their account (done, or refused with the reason).

Links point at the member portal (``/m/<merchant>/data/<token>.zip``), reversed by name:
``customercare`` sits below ``portals`` and does not import it."""

from typing import Any

from babel.dates import format_date
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from core.i18n import supported_language
from customercare.models import AccountDeletionRequest, DeletionStatus, MemberDataExport
from loyalty.messages.emails import brand_of, sender
from merchants.models import Merchant


def data_download_url(export: MemberDataExport) -> str:
    path = reverse(
        "member:data_download",
        kwargs={"merchant_slug": export.merchant.slug, "token": export.token},
    )
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def _email(
    *, merchant: Merchant, template: str, locale: str, to: str, context: dict[str, Any]
) -> EmailMultiAlternatives:
    language = supported_language(locale)
    brand = brand_of(merchant)
    with translation.override(language):
        context = {
            **context,
            "language": language,
            "text_direction": "rtl" if translation.get_language_bidi() else "ltr",
            "brand": brand,
        }
        subject = " ".join(
            render_to_string(f"customercare/email/member/{template}_subject.txt", context).split()
        )
        context["subject"] = subject
        text = render_to_string(f"customercare/email/member/{template}.txt", context)
        html = render_to_string(f"customercare/email/member/{template}.html", context)
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender(brand),
        to=[to],
        headers={"Auto-Submitted": "auto-generated"},
    )
    email.attach_alternative(html, "text/html")
    return email


def data_ready_email(export: MemberDataExport) -> EmailMultiAlternatives:
    member = export.member
    language = supported_language(member.locale)
    expires = format_date(
        export.expires_at.astimezone(export.merchant.timezone).date(),
        format="long",
        locale=translation.to_locale(language),
    )
    return _email(
        merchant=export.merchant,
        template="data_ready",
        locale=member.locale,
        to=member.email,
        context={
            "first_name": member.first_name,
            "download_url": data_download_url(export),
            "expires_on": expires,
            "days": MemberDataExport.KEPT_DAYS,
        },
    )


def deletion_decided_email(request: AccountDeletionRequest) -> EmailMultiAlternatives:
    done = request.status == DeletionStatus.DONE
    return _email(
        merchant=request.merchant,
        template="deletion_done" if done else "deletion_rejected",
        locale=request.notify_locale,
        to=request.notify_email,
        context={
            # After the deletion there is no name left to greet.
            "first_name": "" if done else request.member.first_name,
            "decision_note": request.decision_note,
        },
    )
