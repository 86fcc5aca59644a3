"""Care emails: written as ``CareNotification`` rows in the transaction that causes them
and sent by a task after the commit, so a request never waits on the mail server and a
crash between the two loses nothing (the every-few-minutes sweep sends what is left).

To the member: a public reply and a resolution, in the member's locale, with the link to
their ticket page. To agents: SLA at risk or breached, and unassigned tickets at risk."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from customercare import enqueue, locks
from customercare.links import ticket_page_url
from customercare.models import (
    CareNotification,
    MessageKind,
    NotificationKind,
    Ticket,
    TicketMessage,
)
from fulfillment.vouchers import member_language

logger = logging.getLogger(__name__)
MEMBER_KINDS = (NotificationKind.REPLY, NotificationKind.RESOLVED)
MAX_TRIES = 8


def _member_address(ticket: Ticket) -> list[str]:
    return [ticket.member.email] if ticket.member.email else []


def notification_queue(
    *,
    ticket: Ticket,
    kind: str,
    key: str,
    to: list[str] | None = None,
    message: TicketMessage | None = None,
) -> CareNotification | None:
    """Write the notification once (``key`` is unique) and send it after the commit;
    ``None`` when there is nobody to send it to or it was written already."""
    if kind in MEMBER_KINDS and message is not None and message.kind != MessageKind.PUBLIC:
        return None  # an internal note never leaves the back office
    if to is None:
        to = _member_address(ticket) if kind in MEMBER_KINDS else []
    if not to or CareNotification.objects.filter(key=key).exists():
        return None
    try:
        with transaction.atomic():
            notification = CareNotification.objects.create(
                ticket=ticket, kind=kind, key=key, to=to, message=message
            )
    except IntegrityError:
        return None
    enqueue.care_notification_send(notification_id=notification.pk)
    return notification


def notification_send(*, notification_id: int) -> bool:
    """Send one notification unless it was sent; True when this call sent it."""
    with transaction.atomic():
        notification = locks.notification_claim(pk=notification_id)
        if notification is None:
            return False
        try:
            render(notification).send()
        except Exception as exc:  # the sweep tries again later, up to MAX_TRIES
            CareNotification.objects.filter(pk=notification.pk).update(
                tries=notification.tries + 1, last_error=repr(exc)[:300]
            )
            logger.warning("care notification %s not sent: %r", notification.key, exc)
            return False
        CareNotification.objects.filter(pk=notification.pk).update(
            sent_at=timezone.now(), tries=notification.tries + 1, last_error=""
        )
    return True


def unsent_notifications(*, limit: int = 200) -> list[int]:
    return list(
        CareNotification.objects.filter(sent_at__isnull=True, tries__lt=MAX_TRIES)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def _public(message: TicketMessage | None) -> TicketMessage | None:
    return message if message is not None and message.kind == MessageKind.PUBLIC else None


def render(notification: CareNotification) -> EmailMultiAlternatives:
    ticket = notification.ticket
    to_member = notification.kind in MEMBER_KINDS
    language = member_language(ticket.member) if to_member else settings.LANGUAGE_CODE
    with translation.override(language):
        context = {
            "ticket": ticket,
            "merchant_name": ticket.merchant.name,
            "member": ticket.member,
            "message": _public(notification.message),
            "kind": notification.kind,
            "ticket_url": ticket_page_url(ticket) if to_member else "",
            "admin_url": settings.PUBLIC_BASE_URL.rstrip("/")
            + f"/admin/customercare/ticket/{ticket.pk}/change/",
        }
        folder = "member" if to_member else "agent"
        subject = " ".join(
            render_to_string(
                f"customercare/email/{folder}/{notification.kind}_subject.txt", context
            ).split()
        )
        body = render_to_string(f"customercare/email/{folder}/{notification.kind}.txt", context)
    return EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(notification.to),
        headers={"Auto-Submitted": "auto-generated"},
    )
