"""Delete my account: a member asks from the portal, ops decide in the admin, and an
approval erases the member's personal data through loyalty's anonymisation, which keeps
the ledger, orders and balances whole (the merchant's books and invoices rest on them).

- **One state machine.** requested → approved → done, or requested → rejected.
  ``account_deletion_transition`` is the only writer of the status: a compare-and-swap on
  the status it read (0 rows: someone decided first, ``InvalidTransition``) and an event
  row with who, when and why.
- **One open request a member.** Asking again while one waits for review raises
  ``DeletionAlreadyRequested`` and writes nothing; the member's row is locked while the
  check and the insert run, and a partial unique index holds it in the database too.
- **Approving is one transaction**: approved, the member anonymised, their data archives
  deleted, done. Where to tell the member is copied first (``notify_email``) since the
  anonymisation clears it; the email goes by a task after the commit, once, and the copy
  is cleared when it is sent.
- **Who decides**: whoever may anonymise a member (``loyalty.anonymise_member``:
  Operations and Care leads); the admin asks ``account_deletion_may_decide``."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.actors import Actor, actor_user
from core.exceptions import InvalidTransition
from customercare import enqueue, locks
from customercare.exceptions import DeletionAlreadyRequested, PrivacyRequestRefused
from customercare.member_data_requests import member_data_exports_erase
from customercare.models import (
    DELETION_TRANSITIONS,
    AccountDeletionEvent,
    AccountDeletionRequest,
    DeletionStatus,
)
from customercare.privacy_emails import deletion_decided_email
from loyalty.locks import member_lock_of
from loyalty.models import Member
from loyalty.services.members import member_anonymise, member_is_anonymised
from merchants.models import Merchant

DECIDE_PERMISSION = "loyalty.anonymise_member"
DECIDED = (DeletionStatus.DONE, DeletionStatus.REJECTED)


def account_deletion_transition(
    *, request: AccountDeletionRequest, to: str, actor: Actor, note: str = ""
) -> AccountDeletionRequest:
    """Move the request to ``to`` and record the move; the only writer of the status."""
    old = request.status
    if to not in DELETION_TRANSITIONS.get(old, set()):
        raise InvalidTransition(f"A deletion request cannot go from {old} to {to}.")
    now = timezone.now()
    changes: dict = {"status": to}
    if old == DeletionStatus.REQUESTED:
        changes |= {"decided_by": actor_user(actor), "decided_at": now, "decision_note": note}
    moved = AccountDeletionRequest.objects.filter(pk=request.pk, status=old).update(**changes)
    if not moved:
        raise InvalidTransition("The deletion request was decided meanwhile.")
    for field, value in changes.items():
        setattr(request, field, value)
    AccountDeletionEvent.objects.create(
        request=request,
        from_status=old,
        to_status=to,
        actor=actor_user(actor),
        source=actor.kind,
        note=note,
    )
    return request


def account_deletion_request(
    *, merchant: Merchant, member: Member, reason: str = "", actor: Actor
) -> AccountDeletionRequest:
    """The member asks for their account to be deleted (``DeletionAlreadyRequested`` when
    a request of theirs is waiting for review, and nothing written)."""
    if member.merchant_id != merchant.pk:
        raise PrivacyRequestRefused("The member is not this merchant's.")
    if member_is_anonymised(member=member):
        raise PrivacyRequestRefused("The member's data was erased already.")
    try:
        with transaction.atomic():
            # One member's requests queue here, so the check below sees the one before.
            member_lock_of(merchant=merchant, member_id=member.pk)
            if account_deletion_open(merchant=merchant, member=member) is not None:
                raise DeletionAlreadyRequested()
            request = AccountDeletionRequest.objects.create(
                merchant=merchant, member=member, reason=reason.strip()[:1000]
            )
            AccountDeletionEvent.objects.create(
                request=request,
                to_status=DeletionStatus.REQUESTED,
                actor=actor_user(actor),
                source=actor.kind,
                note=request.reason,
            )
    except IntegrityError:  # an open request written past the lock: that one stands
        raise DeletionAlreadyRequested() from None
    return request


def account_deletion_open(*, merchant: Merchant, member: Member) -> AccountDeletionRequest | None:
    """The member's request waiting for a decision, if any (for the profile page)."""
    return AccountDeletionRequest.objects.filter(
        merchant=merchant, member=member, status=DeletionStatus.REQUESTED
    ).first()


def account_deletion_may_decide(*, request: AccountDeletionRequest) -> bool:
    return request.status == DeletionStatus.REQUESTED


def _notify_copy(request: AccountDeletionRequest, member: Member) -> None:
    request.notify_email = member.email
    request.notify_locale = member.locale
    AccountDeletionRequest.objects.filter(pk=request.pk).update(
        notify_email=member.email, notify_locale=member.locale
    )


@transaction.atomic
def account_deletion_approve(
    *, request: AccountDeletionRequest, note: str = "", actor: Actor
) -> AccountDeletionRequest:
    """Approve and carry out: the member anonymised (ledger kept), their archives
    deleted, the request done, the member told."""
    member = member_lock_of(merchant=request.merchant, member_id=request.member_id)
    account_deletion_transition(request=request, to=DeletionStatus.APPROVED, actor=actor, note=note)
    _notify_copy(request, member)
    if not member_is_anonymised(member=member):
        member_anonymise(merchant=request.merchant, member=member)
    member_data_exports_erase(member=member)
    account_deletion_transition(request=request, to=DeletionStatus.DONE, actor=actor)
    enqueue.account_deletion_notify(request_id=request.pk)
    return request


@transaction.atomic
def account_deletion_reject(
    *, request: AccountDeletionRequest, reason: str, actor: Actor
) -> AccountDeletionRequest:
    """Refuse, with the reason the member is told."""
    reason = reason.strip()
    if not reason:
        raise PrivacyRequestRefused("Say why the request is rejected: the member is told.")
    member = Member.objects.get(pk=request.member_id, merchant=request.merchant)
    account_deletion_transition(
        request=request, to=DeletionStatus.REJECTED, actor=actor, note=reason
    )
    _notify_copy(request, member)
    enqueue.account_deletion_notify(request_id=request.pk)
    return request


def account_deletion_email_send(*, request_id: int) -> bool:
    """Tell the member of the decision once; True when this call sent it. The address
    kept for it is cleared once sent."""
    with transaction.atomic():
        request = locks.account_deletion_lock(pk=request_id)
        if request is None or request.status not in DECIDED or request.emailed_at is not None:
            return False
        if not request.notify_email:
            return False
        deletion_decided_email(request).send()
        AccountDeletionRequest.objects.filter(pk=request.pk).update(
            emailed_at=timezone.now(), notify_email="", notify_locale=""
        )
    return True


def account_deletions_unsent(*, limit: int = 200) -> list[int]:
    """Decisions whose email a lost task left unsent."""
    return list(
        AccountDeletionRequest.objects.filter(status__in=DECIDED, emailed_at__isnull=True)
        .exclude(notify_email="")
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
