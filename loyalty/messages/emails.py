"""A member message as an email: the wording (``content``) in the merchant's brand, an HTML
part and a plain-text part, from the merchant's sender name, with the one-click
unsubscribe headers of RFC 8058 and a visible unsubscribe link.

Links point at the member portal's message pages (``/m/<merchant>/messages/<token>/...``,
served by ``portals``): the tracked link to the shop and the unsubscribe page. They are
reversed by name, not imported, since ``loyalty`` sits below ``portals``."""

import logging
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from core.colours import DEFAULT, readable
from core.i18n import supported_language
from loyalty.messages import content
from loyalty.models import MemberMessage, MessageKind, MessageTemplate, Program
from merchants.models import Merchant, MerchantBrand
from merchants.selectors import merchant_shop_url

logger = logging.getLogger(__name__)

# The button under each kind's text: what the tracked link leads to, in words.
REWARDS_KINDS = {MessageKind.POINTS_EXPIRING, MessageKind.REFERRAL_REWARDED}


@dataclass(frozen=True)
class Brand:
    name: str
    sender_name: str
    colour: str
    logo_url: str
    shop_url: str


def brand_of(merchant: Merchant) -> Brand:
    """The merchant's brand as the emails use it; a merchant without one gets the design
    system's blue, its own name and its first store's address."""
    brand = MerchantBrand.objects.filter(merchant=merchant).first()
    shop_url = merchant_shop_url(merchant_id=merchant.pk)
    logo_url = ""
    if brand is not None and brand.logo:
        logo_url = brand.logo.url
        if not logo_url.startswith(("http://", "https://")):
            logo_url = settings.PUBLIC_BASE_URL + logo_url
    return Brand(
        name=merchant.name,
        sender_name=(brand.sender_name if brand is not None else "") or merchant.name,
        colour=readable((brand.colour if brand is not None else "") or DEFAULT),
        logo_url=logo_url,
        shop_url=shop_url,
    )


def sender(brand: Brand) -> str:
    """``Sender Name <DEFAULT_FROM_EMAIL's address>``: the merchant's name, our mailbox."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((brand.sender_name, address or settings.DEFAULT_FROM_EMAIL))


def message_url(message: MemberMessage, name: str, merchant_slug: str) -> str:
    path = reverse(
        f"member:message_{name}", kwargs={"merchant_slug": merchant_slug, "token": message.token}
    )
    return settings.PUBLIC_BASE_URL + path


def wording(
    *,
    merchant: Merchant,
    kind: str,
    language: str,
    values: dict[str, Any],
    data: dict[str, Any],
    template: MessageTemplate | None = None,
) -> content.Rendered:
    """The merchant's active template for the kind and language, else the built-in one;
    ``template`` (the admin's preview) is rendered whether active or not, errors and all."""
    if template is not None:
        return content.merchant_rendered(
            subject=template.subject, body=template.body, values=values
        )
    template = MessageTemplate.objects.filter(
        merchant=merchant, kind=kind, locale=language, is_active=True
    ).first()
    if template is not None:
        try:
            return content.merchant_rendered(
                subject=template.subject, body=template.body, values=values
            )
        except Exception:  # refused when saved, so a bug: the member still gets a message
            logger.exception("message template %s did not render", template.pk)
    return content.builtin(kind, values, data)


def message_email(
    *,
    message: MemberMessage,
    merchant: Merchant,
    first_name: str,
    data: dict[str, Any],
    program: Program | None = None,
    template: MessageTemplate | None = None,
) -> EmailMultiAlternatives:
    """The email of ``message`` (not yet saved is fine: it needs only its token)."""
    language = supported_language(message.locale)
    brand = brand_of(merchant)
    if program is None:
        program = Program.objects.filter(merchant=merchant, is_active=True).first()
    program_name = program.name if program is not None else merchant.name
    points_name = program.points_name if program is not None else "Points"
    unsubscribe_url = message_url(message, "unsubscribe", merchant.slug)
    open_url = message_url(message, "open", merchant.slug) if brand.shop_url else ""
    with translation.override(language):
        values = content.fields(
            first_name=first_name,
            program=program_name,
            points_name=points_name,
            data={**data, "shop_link": brand.shop_url},
            language=language,
        )
        rendered = wording(
            merchant=merchant,
            kind=message.kind,
            language=language,
            values=values,
            data=data,
            template=template,
        )
        context = {
            "language": language,
            "text_direction": "rtl" if translation.get_language_bidi() else "ltr",
            "brand": brand,
            "program_name": program_name,
            "first_name": first_name,
            "subject": rendered.subject,
            "paragraphs": rendered.paragraphs,
            "body_text": rendered.text,
            "body_html": rendered.html,
            "open_url": open_url,
            "button_rewards": message.kind in REWARDS_KINDS,
            "unsubscribe_url": unsubscribe_url,
        }
        text = render_to_string("loyalty/email/message.txt", context)
        html = render_to_string("loyalty/email/message.html", context)
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=text,
        from_email=sender(brand),
        to=[message.to_email] if message.to_email else [],
        headers={
            "Auto-Submitted": "auto-generated",
            # RFC 8058: a POST to the https URL unsubscribes, with no confirmation step.
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    email.attach_alternative(html, "text/html")
    return email


PREVIEW_FIRST_NAME = "Alex"


def message_preview(
    *, merchant: Merchant, kind: str, locale: str, template: MessageTemplate | None = None
) -> EmailMultiAlternatives:
    """The email a sample member (Alex, with sample figures) would get: ``template``'s
    wording, else what a member in ``locale`` gets today. Nothing is saved or sent."""
    message = MemberMessage(
        merchant=merchant,
        kind=kind,
        key="preview",
        locale=locale,
        to_email="alex@example.com",
        token="preview",
        created_at=timezone.now(),
    )
    return message_email(
        message=message,
        merchant=merchant,
        first_name=PREVIEW_FIRST_NAME,
        data=content.sample_data(kind),
        template=template,
    )
