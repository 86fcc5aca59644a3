"""Sending a member message, once, and what a member does with one (unsubscribe, follow
its link).

Once: ``message_send`` writes the ``MemberMessage`` row first, committed on its own, and
sends only if it wrote it. The row is unique per (merchant, member, key), so a second job,
a retry or a concurrent worker that gets to the same message finds the row taken
(``IntegrityError``) and sends nothing. The price is at most once rather than at least
once: a worker that dies between the row and the send leaves the row saying so
(``failed``, "interrupted") and the member without that message, which is the right way
round for an email.

Whether a message may go is one predicate, ``message_skip_reason``; a skipped message is
a row too (with its reason), so the log says why a member got nothing.
"""

import datetime
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db import IntegrityError, transaction

from core.exceptions import NotFound
from core.i18n import supported_language
from loyalty.messages.emails import message_email
from loyalty.models import (
    Member,
    MemberMessage,
    MemberStatus,
    MessageCategory,
    MessageKind,
    MessageOptOut,
    MessageStatus,
)
from loyalty.services import members as member_services

logger = logging.getLogger(__name__)

# Welcome messages invite the member to shop and to bring friends: promotional, so only
# with marketing consent. The others are about the member's own account.
KIND_CATEGORY: dict[str, str] = {
    MessageKind.WELCOME: MessageCategory.MARKETING,
    MessageKind.POINTS_EXPIRING: MessageCategory.TRANSACTIONAL,
    MessageKind.TIER_REACHED: MessageCategory.TRANSACTIONAL,
    MessageKind.TIER_LOST: MessageCategory.TRANSACTIONAL,
    MessageKind.ACHIEVEMENT_COMPLETED: MessageCategory.TRANSACTIONAL,
    MessageKind.REFERRAL_REWARDED: MessageCategory.TRANSACTIONAL,
}
INTERRUPTED = "Interrupted before it was sent."


def message_skip_reason(*, member: Member, kind: str) -> str:
    """Why ``member`` may not get a message of ``kind``; empty when it may."""
    if member.status == MemberStatus.ANONYMISED:
        return "The member's personal data was erased."
    if member.status == MemberStatus.BLOCKED:
        return "The member is blocked."
    if not member.email:
        return "The member has no email address."
    if MessageOptOut.objects.filter(
        merchant_id=member.merchant_id, member=member, kind=kind
    ).exists():
        return "The member unsubscribed from these messages."
    if KIND_CATEGORY[kind] == MessageCategory.MARKETING and not member.marketing_consent:
        return "Promotional, and the member gave no marketing consent."
    return ""


def message_send(
    *, member: Member, kind: str, key: str, data: dict[str, Any], now: datetime.datetime
) -> MemberMessage | None:
    """Send ``member`` the message ``key`` of ``kind`` unless it was sent (or skipped)
    before; the logged row, or ``None`` when the key was taken already. ``data`` holds
    what the message is about (``points``, ``expires_on``, ``tier``...). Call it outside
    a transaction, so that the row is committed before the email leaves."""
    reason = message_skip_reason(member=member, kind=kind)
    message = MemberMessage(
        merchant_id=member.merchant_id,
        member=member,
        kind=kind,
        category=KIND_CATEGORY[kind],
        key=key,
        locale=supported_language(member.locale),
        to_email=member.email if not reason else "",
        status=MessageStatus.SKIPPED if reason else MessageStatus.FAILED,
        skip_reason=reason or INTERRUPTED,
        created_at=now,
    )
    email = None
    if not reason:
        email = message_email(
            message=message,
            merchant=member.merchant,
            first_name=member.first_name,
            data={**data, "balance": data.get("balance", member.points_balance)},
        )
        message.subject = email.subject[:200]
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return None
    if email is None:
        return message
    try:
        email.send()
    except Exception as exc:  # the mail server refused it: logged, not retried (the key holds)
        logger.warning("member message %s not sent: %r", message.pk, exc)
        message.skip_reason = f"The mail server refused it: {exc!r}"[:200]
        MemberMessage.objects.filter(pk=message.pk).update(skip_reason=message.skip_reason)
        return message
    message.status, message.skip_reason, message.sent_at = MessageStatus.SENT, "", now
    MemberMessage.objects.filter(pk=message.pk).update(
        status=message.status, skip_reason="", sent_at=now
    )
    return message


# -- what the member does with a message ---------------------------------------------------


def message_by_token(*, merchant_slug: str, token: str) -> MemberMessage:
    """The message a link names, within the merchant the link names: another merchant's
    token, like an unknown one, is ``NotFound``."""
    message = (
        MemberMessage.objects.select_related("merchant", "member")
        .filter(token=token, merchant__slug=merchant_slug)
        .first()
    )
    if message is None:
        raise NotFound("No such message.")
    return message


def message_opt_out(*, message: MemberMessage, source: str) -> MessageOptOut:
    """The member no longer wants messages of this one's kind; for a promotional kind,
    their marketing consent is withdrawn too (a ``member.updated`` event tells the store).
    Doing it twice changes nothing."""
    member = message.member
    try:
        with transaction.atomic():
            opt_out, _ = MessageOptOut.objects.get_or_create(
                merchant_id=message.merchant_id,
                member=member,
                kind=message.kind,
                defaults={"source": source},
            )
    except IntegrityError:  # the same click twice at once
        opt_out = MessageOptOut.objects.get(
            merchant_id=message.merchant_id, member=member, kind=message.kind
        )
    if (
        message.category == MessageCategory.MARKETING
        and member.marketing_consent
        and not member_services.member_is_anonymised(member=member)
    ):
        member_services.member_upsert(
            merchant=message.merchant,
            external_id=member.external_id,
            fields={"marketing_consent": False},
        )
    return opt_out


def message_is_opted_out(*, message: MemberMessage) -> bool:
    return MessageOptOut.objects.filter(
        merchant_id=message.merchant_id, member_id=message.member_id, kind=message.kind
    ).exists()


def message_opened(*, message: MemberMessage, now: datetime.datetime) -> bool:
    """Mark the message opened (its link followed), the first time only; True then."""
    return bool(
        MemberMessage.objects.filter(pk=message.pk, opened_at__isnull=True).update(opened_at=now)
    )


def message_destination(*, shop_url: str, path: str = "") -> str:
    """Where a message's link leads: the shop, or a path on the shop's own host. Anything
    that is not a plain path (another host, ``//host``, a scheme, a backslash) leads to
    the shop itself, so the link can never send a member elsewhere."""
    if not shop_url:
        return ""
    if not path:
        return shop_url
    target = urlsplit(path)
    if (
        target.scheme
        or target.netloc
        or not path.startswith("/")
        or path.startswith("//")
        or "\\" in path
        or any(ord(character) < 32 for character in path)
    ):
        return shop_url
    shop = urlsplit(shop_url)
    return urlunsplit((shop.scheme, shop.netloc, target.path, target.query, ""))
