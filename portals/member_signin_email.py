"""The member portal's sign-in email, sent by a task.

The sign-in form must not tell anyone whether an address is a member's, not even by how
long it takes to answer. So the request does the same work for every well-formed address
(validate, throttle, queue this task, render the same page), and only the task looks the
member up and, for an active member of that merchant, renders and sends the link. A
stranger's address costs the task a lookup and nothing else.

Sent once per request: the request's ``nonce`` is marked once the message is handed to
the mail server, so a task delivered again (``acks_late``, a worker lost after sending)
sends nothing more."""

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode

from core.i18n import supported_language
from loyalty.messages.emails import brand_of, sender
from loyalty.models import Member, MemberStatus
from merchants.models import Merchant
from portals.member_session import EMAIL_LINK_MAX_AGE, email_link_token

_SENT_KEY = "member-signin-sent:{nonce}"
# Longer than a link lives: a task delivered again after that sends a link that still works.
_SENT_KEPT = 2 * EMAIL_LINK_MAX_AGE


def signin_email_send(
    *, merchant_id: int, email: str, next_path: str, language: str, nonce: str
) -> bool:
    """Email a sign-in link to the active member of the merchant with that address, in
    their language (else ``language``, the page's); nobody else gets anything. True when
    this call sent it."""
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is None or cache.get(_SENT_KEY.format(nonce=nonce)):
        return False
    member = (
        Member.objects.filter(merchant=merchant, email__iexact=email, status=MemberStatus.ACTIVE)
        .order_by("pk")
        .first()
    )
    if member is None:
        return False
    _message(merchant, member, next_path, language).send()
    cache.set(_SENT_KEY.format(nonce=nonce), 1, timeout=_SENT_KEPT)
    return True


def _message(
    merchant: Merchant, member: Member, next_path: str, language: str
) -> EmailMultiAlternatives:
    brand = brand_of(merchant)
    token = email_link_token(member=member)
    path = reverse("member:login_link", kwargs={"merchant_slug": merchant.slug, "token": token})
    if next_path:
        path += "?" + urlencode({"next": next_path})
    with translation.override(supported_language(member.locale or language)):
        context = {
            "brand": brand,
            "member": member,
            "merchant": merchant,
            "url": settings.PUBLIC_BASE_URL + path,
            "minutes": EMAIL_LINK_MAX_AGE // 60,
            "language": translation.get_language(),
            "text_direction": "rtl" if translation.get_language_bidi() else "ltr",
        }
        subject = render_to_string("portals/member_email/signin_subject.txt", context).strip()
        text = render_to_string("portals/member_email/signin.txt", context)
        html = render_to_string("portals/member_email/signin.html", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=sender(brand), to=[member.email]
    )
    message.attach_alternative(html, "text/html")
    return message
