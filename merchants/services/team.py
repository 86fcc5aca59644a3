"""The merchant portal's team.

Portal users are invited (there is no open sign-up): an invitation makes the user, with an
unusable password, and the membership, and emails a link that sets the password (a
password-reset link of the portal's sign-in, valid PASSWORD_RESET_TIMEOUT). Every change
to the team is a ``membership_set`` event naming who acted. A merchant's portal always
keeps one owner: the owners are counted under a lock of the merchant's memberships.
"""

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from core.actors import Actor, actor_label
from core.exceptions import DomainError, NotFound, ReasonRequired
from merchants import locks
from merchants.exceptions import AlreadyOnTeam, LastOwner
from merchants.models import MembershipRole, Merchant, MerchantEvent, MerchantMembership
from merchants.services.history import merchant_event_record


@transaction.atomic
def membership_set(
    *, merchant: Merchant, user: object, role: str, actor: Actor
) -> MerchantMembership:
    """Give ``user`` the ``role`` in ``merchant``'s portal (creating or changing it)."""
    membership, _ = MerchantMembership.objects.update_or_create(
        merchant=merchant, user=user, defaults={"role": role}
    )
    membership.full_clean()
    merchant_event_record(
        merchant=merchant,
        kind=MerchantEvent.Kind.MEMBERSHIP_SET,
        reason=f"{user.get_username()}: {role}",
        actor=actor,
    )
    return membership


def _clean_role(role: str) -> str:
    if role not in MembershipRole.values:
        raise DomainError(f"Unknown role {role!r}.", field="role")
    return role


def _clean_email(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError("Enter a valid email address.", field="email") from None
    # allauth finds a user by the lower-cased address typed at sign-in.
    return email.lower()


@transaction.atomic
def portal_user_invite(
    *, merchant: Merchant, email: str, role: str, actor: Actor
) -> MerchantMembership:
    """Invite ``email`` to ``merchant``'s portal with ``role``: the user (made with an
    unusable password unless one already has that email), the membership, an event, and
    the invitation email once the transaction commits. Someone already on the team is
    refused with ``AlreadyOnTeam``."""
    email = _clean_email(email)
    role = _clean_role(role)
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).order_by("pk").first()
    if user is None:
        if User.objects.filter(username__iexact=email).exists():
            raise DomainError("That email is taken by another account.", field="email")
        user = User(username=email[:150], email=email)
        user.set_unusable_password()
        user.save()
    elif MerchantMembership.objects.filter(merchant=merchant, user=user).exists():
        raise AlreadyOnTeam(f"{email} is already on the team.", field="email")
    membership = MerchantMembership.objects.create(merchant=merchant, user=user, role=role)
    merchant_event_record(
        merchant=merchant,
        kind=MerchantEvent.Kind.MEMBERSHIP_SET,
        reason=f"{email} invited as {MembershipRole(role).label.lower()}",
        actor=actor,
    )
    _invite_enqueue(membership_id=membership.pk, invited_by=actor_label(actor))
    return membership


def _invite_enqueue(*, membership_id: int, invited_by: str) -> None:
    from merchants.tasks import send_portal_invite

    transaction.on_commit(lambda: send_portal_invite.delay(membership_id, invited_by))


def portal_invite_email_send(*, membership_id: int, invited_by: str) -> bool:
    """Email the invitation of a membership: a link that sets the password. False when
    the membership is gone meanwhile."""
    membership = (
        MerchantMembership.objects.select_related("merchant", "user")
        .filter(pk=membership_id)
        .first()
    )
    if membership is None:
        return False
    user = membership.user
    # Someone who already has a password (on another merchant's team) signs in with it:
    # their email says so, and carries no link that would reset it.
    link = ""
    if not user.has_usable_password():
        path = reverse(
            "account_reset_password_from_key",
            kwargs={
                "uidb36": user_pk_to_url_str(user),
                "key": default_token_generator.make_token(user),
            },
        )
        link = settings.PUBLIC_BASE_URL + path
    context = {
        "merchant": membership.merchant,
        "role": membership.get_role_display(),
        "invited_by": invited_by,
        "link": link,
        "login_link": settings.PUBLIC_BASE_URL + reverse("account_login"),
        "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        "provider": settings.PROVIDER_NAME,
        "email": user.email,
    }
    send_mail(
        subject=f"You are invited to {membership.merchant.name}'s loyalty portal",
        message=render_to_string("merchants/email/portal_invite.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
    return True


def _owners(memberships: list[MerchantMembership]) -> int:
    return sum(1 for row in memberships if row.role == MembershipRole.OWNER)


def _locked_membership(*, merchant: Merchant, membership_id: int) -> tuple[MerchantMembership, int]:
    """The merchant's membership, locked with its team, and the number of owners."""
    team = locks.memberships_lock(merchant=merchant)
    for row in team:
        if row.pk == membership_id:
            return row, _owners(team)
    raise NotFound("No such member of the team.", field="membership")


def membership_may_leave_owners(*, membership: MerchantMembership, owners: int) -> bool:
    """Whether ``membership`` may stop being an owner (by a role change or a removal):
    anyone but the last owner may."""
    return membership.role != MembershipRole.OWNER or owners > 1


@transaction.atomic
def membership_role_change(
    *, merchant: Merchant, membership_id: int, role: str, actor: Actor
) -> MerchantMembership:
    """Give a member of the merchant's portal team another role. The last owner stays an
    owner (``LastOwner``); the same role again changes nothing."""
    role = _clean_role(role)
    membership, owners = _locked_membership(merchant=merchant, membership_id=membership_id)
    if membership.role == role:
        return membership
    if role != MembershipRole.OWNER and not membership_may_leave_owners(
        membership=membership, owners=owners
    ):
        raise LastOwner("Make someone else an owner first.", field="role")
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    merchant_event_record(
        merchant=merchant,
        kind=MerchantEvent.Kind.MEMBERSHIP_SET,
        reason=f"{membership.user.get_username()}: {before} → {role}",
        actor=actor,
    )
    return membership


@transaction.atomic
def membership_remove(*, merchant: Merchant, membership_id: int, actor: Actor) -> None:
    """Take a member off the merchant's portal team; their other merchants' memberships
    and their user stay. The last owner cannot be removed (``LastOwner``)."""
    membership, owners = _locked_membership(merchant=merchant, membership_id=membership_id)
    if not membership_may_leave_owners(membership=membership, owners=owners):
        raise LastOwner("Make someone else an owner first.", field="membership")
    username = membership.user.get_username()
    membership.delete()
    merchant_event_record(
        merchant=merchant,
        kind=MerchantEvent.Kind.MEMBERSHIP_SET,
        reason=f"{username} removed from the team",
        actor=actor,
    )


@transaction.atomic
def portal_user_second_factor_reset(
    *, membership: MerchantMembership, reason: str, actor: Actor
) -> int:
    """Remove a portal user's second factor (their authenticator app and recovery codes)
    when they lost it, on a request the provider verified: they set up a new one at their
    next sign-in, which an owner must before any page. It is the user's, so it goes for
    every team they are on; the merchant's history names who, and why. Returns how many
    authenticators were removed (none: the user had none, and nothing is recorded)."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why, for the merchant's history.", field="reason")
    removed, _ = Authenticator.objects.filter(user=membership.user).delete()
    if removed:
        merchant_event_record(
            merchant=membership.merchant,
            kind=MerchantEvent.Kind.MEMBERSHIP_SET,
            reason=f"{membership.user.get_username()}: second factor reset ({reason})",
            actor=actor,
        )
    return removed
