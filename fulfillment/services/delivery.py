"""Delivery of a delivered redemption to the member: the claim link and the email.

The claim link carries a signed token (``TimestampSigner`` with its own salt, valid for
``CLAIM_LINK_DAYS``). It is the only credential of the claim page, so it names one
redemption by its random public id and nothing else: a token for one redemption never
opens another, and a changed token fails its signature.

The email carries the link, never a code (not in its text, not in an attachment): codes
are shown only on the claim page and in its PDF voucher, where every showing is audited.
A redemption is emailed once: the delivery status moves
none -> sent by compare-and-swap in the transaction that sends, so two workers racing
send one email, and a failed send rolls the status back for the retry. Only a staff
resend (``resend=True``) sends again.
"""

import datetime
import uuid
from collections.abc import Iterator

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from catalog.models import RewardType
from core.actors import Actor, actor_user
from core.exceptions import InvalidTransition, NotFound
from fulfillment.locks import redemption_delivery_lock
from fulfillment.models import (
    CodeReveal,
    DeliveredCode,
    DeliveryStatus,
    Redemption,
    RedemptionStatus,
)
from fulfillment.services.transitions import redemption_event_record
from fulfillment.vouchers import member_language, money_display

CLAIM_LINK_DAYS = 30
CLAIM_LINK_SALT = "fulfillment.claim-link"
PDF_REWARD_TYPES = (RewardType.GIFT_CARD, RewardType.VOUCHER)
# Delivery states the email and the claim page may move from; a shipment's are its own.
EMAIL_DELIVERY_STATES = (DeliveryStatus.NONE, DeliveryStatus.SENT, DeliveryStatus.CLAIMED)
REVEAL_VIA_CLAIM_PAGE = "claim_page"


class ClaimLinkInvalid(NotFound):
    code = "claim_link_invalid"
    title = "The claim link is not valid or has expired."


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=CLAIM_LINK_SALT)


def claim_token(redemption: Redemption) -> str:
    """A signed, timestamped token naming the redemption (its public id only)."""
    return _signer().sign(str(redemption.public_id))


def redemption_from_token(token: str) -> Redemption:
    """The redemption a claim token names; ``ClaimLinkInvalid`` when the token was
    changed, is older than ``CLAIM_LINK_DAYS`` (``expired=True``) or names nothing."""
    try:
        value = _signer().unsign(token, max_age=datetime.timedelta(days=CLAIM_LINK_DAYS))
    except signing.SignatureExpired as error:
        raise ClaimLinkInvalid("The claim link has expired.", expired=True) from error
    except signing.BadSignature as error:
        raise ClaimLinkInvalid() from error
    try:
        public_id = uuid.UUID(value)
    except ValueError as error:
        raise ClaimLinkInvalid() from error
    redemption = (
        Redemption.objects.select_related("merchant", "member", "reward__brand")
        .filter(public_id=public_id)
        .first()
    )
    if redemption is None:
        raise ClaimLinkInvalid()
    return redemption


def claim_url(redemption: Redemption, base_url: str) -> str:
    """The claim page's absolute URL; ``base_url`` is the public site (``https://host``)."""
    path = reverse("claim:page", kwargs={"token": claim_token(redemption)})
    return base_url.rstrip("/") + path


def delivery_address(redemption: Redemption) -> str:
    """Where the delivery email goes: the recipient's email, else the member's when the
    reward is delivered by email; empty when it is not emailed."""
    recipient = redemption.recipient if isinstance(redemption.recipient, dict) else {}
    address = recipient.get("email") or ""
    if not address and "email" in (redemption.reward.recipient_fields or []):
        address = redemption.member.email
    return address if isinstance(address, str) else ""


def delivery_may_resend(*, redemption: Redemption) -> bool:
    """Whether the delivery email may go to the member again: delivered, and not voided
    by a reissue (whose own delivery the member gets)."""
    return redemption.status == RedemptionStatus.DELIVERED and redemption.voided_at is None


def delivery_email_send(
    *, redemption: Redemption, base_url: str, resend: bool = False, actor: Actor
) -> None:
    """Email the member the claim link (and the PDF voucher for gift cards and vouchers)
    in their locale, once; ``resend=True`` sends again. Physical items, which ship, and
    redemptions with no address are left alone."""
    redemption = (
        Redemption.objects.select_related("merchant", "member", "reward__brand")
        .prefetch_related("codes")
        .get(pk=redemption.pk)
    )
    if redemption.status != RedemptionStatus.DELIVERED:
        raise InvalidTransition(
            "Only a delivered redemption is sent to the member.", field="status"
        )
    if resend and not delivery_may_resend(redemption=redemption):
        raise InvalidTransition(
            "This reward was reissued: its codes no longer count, so it is not sent again.",
            field="status",
        )
    address = delivery_address(redemption)
    if (
        not address
        or redemption.reward.type == RewardType.PHYSICAL
        or redemption.delivery_status not in EMAIL_DELIVERY_STATES
        or (redemption.delivery_status != DeliveryStatus.NONE and not resend)
    ):
        return
    # Drawn before the transaction: the PDF takes a moment and needs no lock.
    message = _delivery_message(redemption, address, base_url)
    source = "staff" if actor_user(actor) is not None else "system"
    with transaction.atomic():
        current = redemption_delivery_lock(redemption.pk)
        if current not in EMAIL_DELIVERY_STATES or (current != DeliveryStatus.NONE and not resend):
            return  # another worker sent it first
        to_value = (
            DeliveryStatus.CLAIMED if current == DeliveryStatus.CLAIMED else DeliveryStatus.SENT
        )
        Redemption.objects.filter(pk=redemption.pk).update(
            delivery_status=to_value, updated_at=timezone.now()
        )
        redemption_event_record(
            redemption=redemption,
            field="delivery",
            from_value=current,
            to_value=to_value,
            source=source,
            note="resent" if current != DeliveryStatus.NONE else "emailed",
            actor=actor,
        )
        # Sent inside the transaction: if sending fails, the status and event roll back
        # and the next try sends again; at worst a commit failure after sending repeats it.
        message.send()


def _delivery_message(
    redemption: Redemption, address: str, base_url: str
) -> EmailMultiAlternatives:
    language = member_language(redemption.member)
    with translation.override(language):
        reward = redemption.reward
        context = {
            "redemption": redemption,
            "member": redemption.member,
            "merchant_name": redemption.merchant.name,
            "brand_name": reward.brand.name,
            "reward_name": reward.name,
            "value": money_display(redemption.face_value, redemption.face_currency, language),
            "quantity": redemption.quantity,
            "claim_url": claim_url(redemption, base_url),
            "claim_link_days": CLAIM_LINK_DAYS,
            "has_voucher": reward.type in PDF_REWARD_TYPES,
            "language": language,
            "text_direction": "rtl" if translation.get_language_bidi() else "ltr",
        }
        subject = " ".join(
            render_to_string("fulfillment/email/delivery_subject.txt", context).split()
        )
        text = render_to_string("fulfillment/email/delivery.txt", context)
        html = render_to_string("fulfillment/email/delivery.html", context)
        message = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers={"Auto-Submitted": "auto-generated"},
        )
        message.attach_alternative(html, "text/html")
    return message


def claim_open(*, redemption: Redemption, actor: Actor) -> list[DeliveredCode]:
    """The member opened the claim page or its PDF: the codes to show. Every code shown
    is a ``CodeReveal``; the first opening marks the delivery claimed."""
    if redemption.status != RedemptionStatus.DELIVERED:
        raise InvalidTransition("The redemption is not delivered yet.", field="status")
    codes = list(DeliveredCode.objects.filter(redemption=redemption))
    with transaction.atomic():
        CodeReveal.objects.bulk_create(
            CodeReveal(code=code, via=REVEAL_VIA_CLAIM_PAGE) for code in codes
        )
        current = redemption_delivery_lock(redemption.pk)
        if current in (DeliveryStatus.NONE, DeliveryStatus.SENT):
            Redemption.objects.filter(pk=redemption.pk, delivery_status=current).update(
                delivery_status=DeliveryStatus.CLAIMED, updated_at=timezone.now()
            )
            redemption_event_record(
                redemption=redemption,
                field="delivery",
                from_value=current,
                to_value=DeliveryStatus.CLAIMED,
                source="member",
                note="claim page opened",
                actor=actor,
            )
            redemption.delivery_status = DeliveryStatus.CLAIMED
    return codes


# A delivery whose email task was lost (a worker died between the commit and the send)
# is picked up after this long, for this long.
UNSENT_AFTER = datetime.timedelta(minutes=5)
UNSENT_FOR = datetime.timedelta(days=1)
# ... and queued again at most once in this long. When the email queue is only behind (a
# backlog older than UNSENT_AFTER), its messages are not lost: queuing the same ones again
# every minute would only make it longer. Which were queued again is kept in Django's
# cache (shared by the web and the workers, as the worker heartbeat is), a key per
# redemption and delivery time that expires after this long, taken with ``cache.add`` so
# that of two runs at once only one queues it. Not a column: that is a migration, for a
# hint. Not by the delivery's age either (queue those whose age falls in this run's
# minute): a late or skipped run would miss some for good and two close runs would both
# queue them. A lost cache costs one message more each, and the email goes out once.
UNSENT_REQUEUE_EVERY = datetime.timedelta(minutes=30)
UNSENT_LIMIT = 500  # queued again per run
UNSENT_SCAN = 10 * UNSENT_LIMIT  # looked at per run, oldest first


def _unsent(now: datetime.datetime) -> Iterator[tuple[int, str]]:
    """Unsent deliveries not queued again lately, oldest first, with their cache key."""
    candidates = list(
        Redemption.objects.filter(
            status=RedemptionStatus.DELIVERED,
            delivery_status=DeliveryStatus.NONE,
            delivered_at__lt=now - UNSENT_AFTER,
            delivered_at__gte=now - UNSENT_FOR,
        )
        .exclude(reward__type=RewardType.PHYSICAL)
        .filter(Q(recipient__has_key="email") | ~Q(member__email=""))
        .order_by("delivered_at", "pk")
        .values_list("pk", "delivered_at")[:UNSENT_SCAN]
    )
    for start in range(0, len(candidates), UNSENT_LIMIT):
        keys = {
            f"fulfillment:unsent-queued:{pk}:{delivered_at.timestamp():.6f}": pk
            for pk, delivered_at in candidates[start : start + UNSENT_LIMIT]
        }
        queued = cache.get_many(list(keys))
        yield from ((pk, key) for key, pk in keys.items() if key not in queued)


def unsent_deliveries_take(*, now: datetime.datetime, limit: int = UNSENT_LIMIT) -> list[int]:
    """The unsent deliveries to queue again now (the caller queues them): each one is
    marked queued for ``UNSENT_REQUEUE_EVERY``, by this run only."""
    taken: list[int] = []
    timeout = UNSENT_REQUEUE_EVERY.total_seconds()
    for pk, key in _unsent(now):
        if len(taken) == limit:
            break
        if cache.add(key, True, timeout=timeout):
            taken.append(pk)
    return taken
