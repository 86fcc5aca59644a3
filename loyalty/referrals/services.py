"""Writes of referrals: a member's code, a friend attached to the code that brought them
(the fraud checks run then, once), and the review of a flagged referral. The job that
qualifies referrals and rewards both sides is ``loyalty.referrals.qualify``.

- **One status writer.** ``referral_transition`` is the only function that changes a
  referral's status: a compare-and-swap on the status it read, ``InvalidTransition``
  when the move is not allowed or another process moved it first, and a
  ``ReferralEvent`` (who, when, from, to, why) in the same transaction.
- **Before and after.** A referral is made at ``created_at``. The friend "ordered before"
  when they have an order other than the one that brought the code (which is recorded
  in the same transaction, just before the referral); the first order that counts is that
  one, or one recorded no earlier than the referral, at or above the terms'
  ``min_order_total`` in the program's currency. Orders are compared by when they were
  recorded, not by the ``placed_at`` a store sends, which it may date back.
- **Exactly once.** The job claims a due referral's row (``SKIP LOCKED`` on PostgreSQL),
  locks the first order (as a refund does, so none slips in between) and then both
  members in primary-key order, credits each side through ``loyalty.ledger`` (source
  ``referral``, available at once), and moves the referral to ``qualified`` with the two
  entries: the move is a compare-and-swap in the same transaction, so a second run that
  got past the claim rolls its credits back with it.
"""

import datetime
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.actors import Actor, actor_fields, actor_label
from core.exceptions import InvalidTransition, NotFound, ReasonRequired
from loyalty import locks
from loyalty.exceptions import MemberNotActive, ReferralCodeUnknown, ReferralRefused
from loyalty.models import (
    REFERRAL_TRANSITIONS,
    Member,
    MemberStatus,
    Order,
    Referral,
    ReferralCode,
    ReferralEvent,
    ReferralIdentity,
    ReferralStatus,
    ReferralTerms,
)
from loyalty.referrals import checks, identity
from merchants.models import Merchant

# No 0/O, 1/I/L: a code read aloud or copied by hand comes out right. 31 ** 8 codes.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
CODE_ATTEMPTS = 5
QUALIFY = Actor.system("qualify_referrals")
WEEK = datetime.timedelta(days=7)

Status = ReferralStatus


@dataclass(frozen=True)
class Address:
    """A postal address as a store sends it; only its digest is kept."""

    lines: tuple[str, ...]
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True)
class ReferralInput:
    """What a store sends with a new member or an order: the advocate's code and what it
    saw of the customer (each optional)."""

    code: str = ""
    client_ip: str | None = None
    device_id: str = ""
    address: Address | None = None


# -- codes and links ------------------------------------------------------------------------


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def referral_code_get_or_create(*, member: Member) -> ReferralCode:
    """The member's referral code, made on first use: random, unique across merchants
    (a new draw on the rare collision)."""
    found = ReferralCode.objects.filter(member=member).first()
    if found is not None:
        return found
    for _ in range(CODE_ATTEMPTS):
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(
                    merchant_id=member.merchant_id, member=member, code=_new_code()
                )
        except IntegrityError:
            # Either the code was taken (draw again) or a concurrent call gave the
            # member theirs (use it).
            found = ReferralCode.objects.filter(member=member).first()
            if found is not None:
                return found
    raise RuntimeError("no free referral code after several draws")


def referral_code_normalise(code: str) -> str:
    """A code as typed: case and surrounding spaces do not matter."""
    return "".join((code or "").split()).upper()


def referral_link(code: ReferralCode | str) -> str:
    """The absolute link a member shares: ``<PUBLIC_BASE_URL>/r/<code>``."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("referral-link", args=[str(code)])


def referral_code_find(*, code: str) -> ReferralCode | None:
    """The code a link names, with its member and merchant (no merchant is known from
    a link: codes are unique across merchants)."""
    code = referral_code_normalise(code)
    if not code or len(code) > ReferralCode._meta.get_field("code").max_length:
        return None
    return ReferralCode.objects.select_related("member", "merchant").filter(code=code).first()


def referral_terms_get(*, merchant: Merchant) -> ReferralTerms | None:
    """The referral terms of the merchant's active program, if it has some."""
    return (
        ReferralTerms.objects.select_related("program")
        .filter(program__merchant=merchant, program__is_active=True)
        .first()
    )


def referral_terms_save(*, terms: ReferralTerms, actor: Actor) -> ReferralTerms:
    """Check and save a program's referral terms (the admin's form builds them). New
    terms apply to referrals qualifying from now on."""
    terms.full_clean()
    terms.save()
    return terms


# -- what the checks compare --------------------------------------------------------------


def address_digest(address: Address | None) -> str:
    """A digest of the folded address (``identity.address_key``): equal addresses give
    equal digests, and the address cannot be read back from it."""
    if address is None:
        return ""
    key = identity.address_key(address.lines, address.postal_code, address.country)
    return hashlib.sha256(key.encode()).hexdigest() if key else ""


def referral_identity_note(
    *,
    member: Member,
    client_ip: str | None = None,
    device_id: str = "",
    address: Address | None = None,
) -> ReferralIdentity | None:
    """Keep what the store saw of a member (their last IP, device, address digest) for the
    checks of the referrals they make later. Nothing given: nothing written."""
    digest = address_digest(address)
    device_id = (device_id or "").strip()[:128]
    values: dict[str, Any] = {}
    if client_ip:
        values["client_ip"] = client_ip
    if device_id:
        values["device_id"] = device_id
    if digest:
        values["address_digest"] = digest
    if not values:
        return None
    found, _ = ReferralIdentity.objects.update_or_create(
        member=member, defaults={"merchant_id": member.merchant_id, **values}
    )
    return found


def referral_identity_erase(*, member: Member) -> None:
    """Forget what the checks kept of a member whose personal data is erased: their
    identity row, and the IP and device of the referral that brought them."""
    ReferralIdentity.objects.filter(member=member).delete()
    Referral.objects.filter(friend=member).update(client_ip=None, device_id="")


def _person(member: Member, known: ReferralIdentity | None, phone: str = "") -> checks.Person:
    country = str(member.country or "")
    return checks.Person(
        member_id=member.pk,
        email=identity.email_key(member.email),
        phone=identity.phone_key(phone or member.phone, country),
        address=(known.address_digest or None) if known else None,
        ip=(known.client_ip or None) if known else None,
        device=(known.device_id or None) if known else None,
    )


def _reasons(check: checks.Check) -> list[dict[str, Any]]:
    return [
        {"code": reason.code, "blocks": reason.blocks, "words": reason.words}
        for reason in check.reasons
    ]


# -- a friend attached ----------------------------------------------------------------------

VERDICT_STATUS = {
    checks.Verdict.CLEAR: Status.PENDING,
    checks.Verdict.FLAGGED: Status.FLAGGED,
    checks.Verdict.BLOCKED: Status.BLOCKED,
}


def _qualifying(order: Order, terms: ReferralTerms) -> bool:
    return order.program_total >= terms.min_order_total


@transaction.atomic
def referral_attach(
    *,
    merchant: Merchant,
    friend: Member,
    code: str,
    client_ip: str | None = None,
    device_id: str = "",
    phone: str = "",
    address: Address | None = None,
    order: Order | None = None,
    actor: Actor,
) -> Referral:
    """Attach ``friend`` to the advocate whose ``code`` brought them, and run the fraud
    checks once: the referral is made ``blocked``, ``flagged`` (for a review) or
    ``pending`` (waiting for the friend's first qualifying order), with its reasons.

    ``order`` is the order that came with the code, if any: it does not count as an
    order "before" the referral, and is the first order when it is large enough.
    Idempotent: a friend is referred once, and attaching them again (with any code)
    returns their referral as it is. An unknown code, or one of another merchant, is a
    ``ReferralCodeUnknown`` on ``referral_code``; a member's own code, or a program
    without referrals, a ``ReferralRefused``."""
    normalised = referral_code_normalise(code)
    found = (
        ReferralCode.objects.select_related("member")
        .filter(merchant=merchant, code=normalised)
        .first()
        if normalised
        else None
    )
    if found is None or found.member.status != MemberStatus.ACTIVE:
        raise ReferralCodeUnknown(
            "No member of this program has that referral code.", field="referral_code"
        )
    advocate = found.member
    if friend.merchant_id != merchant.pk:
        raise NotFound("No member with that external_id.", field="member")
    # The friend's lock serialises two attaches of the same friend (the order path holds
    # it already).
    friend = locks.member_lock_of(merchant=merchant, member_id=friend.pk)
    if friend.status != MemberStatus.ACTIVE:
        raise MemberNotActive(f"The member is {friend.status}.", field="member")
    existing = Referral.objects.filter(merchant=merchant, friend=friend).first()
    if existing is not None:
        return existing
    if advocate.pk == friend.pk:
        raise ReferralRefused("A member cannot use their own referral code.", field="referral_code")
    terms = referral_terms_get(merchant=merchant)
    if terms is None or not terms.is_enabled:
        raise ReferralRefused("This program takes no referrals.", field="referral_code")
    referral_identity_note(member=friend, client_ip=client_ip, device_id=device_id, address=address)
    known = {
        row.member_id: row
        for row in ReferralIdentity.objects.filter(member_id__in=[advocate.pk, friend.pk])
    }
    now = timezone.now()
    others = Order.objects.filter(member=friend)
    if order is not None:
        others = others.exclude(pk=order.pk)
    recent = Referral.objects.filter(advocate=advocate, created_at__gte=now - WEEK).count()
    facts = checks.Facts(
        advocate=_person(advocate, known.get(advocate.pk)),
        friend=_person(friend, known.get(friend.pk), phone),
        friend_ordered_before=others.exists(),
        advocate_referrals_this_week=recent + 1,
    )
    check = checks.referral_check(facts, weekly_limit=terms.weekly_limit)
    status = VERDICT_STATUS[check.verdict]
    referral = Referral(
        merchant=merchant,
        advocate=advocate,
        friend=friend,
        code=found.code,
        status=status,
        reasons=_reasons(check),
        client_ip=client_ip or None,
        device_id=(device_id or "").strip()[:128],
        decided_at=now if status == Status.BLOCKED else None,
        created_at=now,
    )
    if order is not None and status != Status.BLOCKED and _qualifying(order, terms):
        referral.first_order = order
        referral.qualifies_at = order.placed_at + datetime.timedelta(days=terms.pending_days)
    referral.save(force_insert=True)
    words = "; ".join(reason["words"] for reason in referral.reasons)
    _event(referral, "", status, f"code {found.code}" + (f": {words}" if words else ""), actor)
    return referral


# -- the state machine ----------------------------------------------------------------------


def _event(referral: Referral, from_status: str, to_status: str, reason: str, actor: Actor):
    return ReferralEvent.objects.create(
        referral=referral,
        from_status=from_status,
        to_status=to_status,
        reason=reason[:500],
        **actor_fields(actor),
        actor_label=actor_label(actor)[:150],
    )


def referral_may_move(*, referral: Referral, to_status: str) -> bool:
    return to_status in REFERRAL_TRANSITIONS.get(referral.status, ())


def referral_may_review(*, referral: Referral) -> bool:
    """Whether a person may approve or reject the referral now (a flagged one)."""
    return referral.status == Status.FLAGGED


def referral_transition(
    *,
    referral: Referral,
    to_status: str,
    reason: str,
    actor: Actor,
    fields: Mapping[str, Any] | None = None,
) -> Referral:
    """Move ``referral`` to ``to_status`` (with ``fields`` written in the same update) and
    record who, when and why; the only way a referral's status changes. A compare-and-swap
    on the status it had: ``InvalidTransition`` when the move is not allowed or someone
    moved it first."""
    from_status = referral.status
    if not referral_may_move(referral=referral, to_status=to_status):
        raise InvalidTransition(
            f"A {from_status} referral cannot become {to_status}.",
            field="status",
            from_status=from_status,
            to_status=to_status,
        )
    fields = dict(fields or {})
    with transaction.atomic():
        moved = Referral.objects.filter(pk=referral.pk, status=from_status).update(
            status=to_status, **fields
        )
        if not moved:
            current = Referral.objects.filter(pk=referral.pk).values_list("status", flat=True)
            raise InvalidTransition(
                f"The referral became {current.first()} meanwhile.",
                field="status",
                from_status=current.first() or "",
                to_status=to_status,
            )
        referral.status = to_status
        for name, value in fields.items():
            setattr(referral, name, value)
        _event(referral, from_status, to_status, reason, actor)
    return referral


def _reviewed(merchant: Merchant, referral: Referral, reason: str) -> str:
    if referral.merchant_id != merchant.pk:
        raise NotFound("No such referral.")
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why.", field="reason")
    if not referral_may_review(referral=referral):
        raise InvalidTransition(
            f"Only a flagged referral is reviewed; this one is {referral.status}.",
            field="status",
        )
    return reason


def referral_approve(
    *, merchant: Merchant, referral: Referral, reason: str, actor: Actor
) -> Referral:
    """A person found a flagged referral honest: it waits for the friend's first order
    as a clear one does (and earns when that order qualifies)."""
    reason = _reviewed(merchant, referral, reason)
    return referral_transition(
        referral=referral, to_status=Status.PENDING, reason=f"approved: {reason}", actor=actor
    )


def referral_reject(
    *, merchant: Merchant, referral: Referral, reason: str, actor: Actor
) -> Referral:
    """A person found a flagged referral dishonest: it never earns."""
    reason = _reviewed(merchant, referral, reason)
    return referral_transition(
        referral=referral,
        to_status=Status.REJECTED,
        reason=f"rejected: {reason}",
        actor=actor,
        fields={"decided_at": timezone.now()},
    )


def referral_input_attach(
    *, merchant: Merchant, member: Member, data: ReferralInput, actor: Actor, order=None
) -> Referral | None:
    """What a store sent with a member or an order: kept for later checks, and the
    referral made when a code came with it."""
    if not data.code:
        if member.status != MemberStatus.ACTIVE:
            return None  # nothing is kept of an erased or blocked member
        referral_identity_note(
            member=member,
            client_ip=data.client_ip,
            device_id=data.device_id,
            address=data.address,
        )
        return None
    return referral_attach(
        merchant=merchant,
        friend=member,
        code=data.code,
        client_ip=data.client_ip,
        device_id=data.device_id,
        address=data.address,
        order=order,
        actor=actor,
    )
