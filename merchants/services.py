"""Every write to merchant data. Each function owns its transaction and records an event.
``event_publish`` is the exception: it writes in its caller's transaction (the outbox).

Status changes are compare-and-swap updates (``filter(status=old).update(status=new)``): two
staff members acting at once cannot both move the same merchant from the same status.
"""

import datetime
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import router, transaction
from django.db.models import Model, sql
from django.db.models.constants import OnConflict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.actors import Actor, actor_fields, actor_label, actor_user
from core.exceptions import DomainError, InvalidTransition, NotFound, ReasonRequired
from merchants import locks
from merchants.exceptions import (
    AlreadyOnTeam,
    InvalidScope,
    LastOwner,
    MerchantNotActive,
    OnboardingIncomplete,
    UnknownEventType,
    UnsafeWebhookURL,
)
from merchants.models import (
    MERCHANT_TRANSITIONS,
    TEST_EVENT,
    ChecklistItem,
    DeliveryStatus,
    EndpointStatus,
    FeePlan,
    MembershipRole,
    Merchant,
    MerchantAPIKey,
    MerchantBrand,
    MerchantEvent,
    MerchantMembership,
    MerchantStatus,
    OnboardingChecklistItem,
    OutboxEvent,
    Scope,
    Store,
    UsageRecord,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
    webhook_secret_new,
)
from merchants.selectors import api_key_cache_invalidate, checklist_missing
from merchants.webhooks.address import url_target

# Keys cannot be issued to merchants that are out of the program for good.
_NO_KEYS_STATUSES = frozenset({MerchantStatus.REJECTED, MerchantStatus.OFFBOARDED})
# last_used_at is a hint for ops, not an audit trail: write it at most once a minute per
# key, so that a busy integration does not turn every read into a write.
_LAST_USED_RESOLUTION = datetime.timedelta(seconds=60)


def _event(*, merchant: Merchant, kind: str, actor: Actor, **fields: str) -> MerchantEvent:
    return MerchantEvent.objects.create(
        merchant=merchant,
        kind=kind,
        **actor_fields(actor),
        actor_label=actor_label(actor),
        **fields,
    )


@transaction.atomic
def merchant_create(
    *,
    name: str,
    slug: str,
    country: str,
    default_currency: str,
    legal_name: str = "",
    timezone_name: str = "UTC",
    contact_email: str = "",
    actor: Actor,
) -> Merchant:
    """A new merchant in ``applied`` status, with its onboarding checklist all open."""
    merchant = Merchant(
        name=name,
        slug=slug,
        country=country,
        default_currency=default_currency,
        legal_name=legal_name,
        timezone=timezone_name,
        contact_email=contact_email,
    )
    merchant.full_clean()
    merchant.save()
    OnboardingChecklistItem.objects.bulk_create(
        OnboardingChecklistItem(merchant=merchant, item=item) for item in ChecklistItem.values
    )
    _event(merchant=merchant, kind=MerchantEvent.Kind.CREATED, actor=actor)
    return merchant


def merchant_transition(
    *, merchant: Merchant, to_status: str, reason: str, actor: Actor
) -> Merchant:
    """Move a merchant to ``to_status`` if the move is allowed; the only way status changes.

    Going live needs the whole onboarding checklist. Offboarding revokes every API key and
    deactivates every store, so nothing keeps talking to the API on the merchant's behalf.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the status changes.", field="reason")
    if to_status not in MerchantStatus.values:
        raise InvalidTransition(f"Unknown status {to_status!r}.", field="to_status")
    with transaction.atomic():
        current = Merchant.objects.get(pk=merchant.pk)
        from_status = current.status
        if to_status not in MERCHANT_TRANSITIONS[from_status]:
            raise InvalidTransition(
                f"A merchant cannot move from {from_status} to {to_status}.",
                field="to_status",
                from_status=from_status,
                to_status=to_status,
            )
        if to_status == MerchantStatus.LIVE:
            missing = checklist_missing(merchant=current)
            if missing:
                raise OnboardingIncomplete(
                    "Complete the onboarding checklist first: " + ", ".join(missing) + ".",
                    missing=missing,
                )
        now = timezone.now()
        moved = Merchant.objects.filter(pk=merchant.pk, status=from_status).update(
            status=to_status, status_changed_at=now, updated_at=now
        )
        if not moved:
            raise InvalidTransition("The merchant's status changed meanwhile; try again.")
        _event(
            merchant=current,
            kind=MerchantEvent.Kind.STATUS_CHANGED,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            actor=actor,
        )
        if to_status == MerchantStatus.OFFBOARDED:
            for key in MerchantAPIKey.objects.filter(merchant=current, revoked=False):
                api_key_revoke(api_key=key, reason="merchant offboarded", actor=actor)
            Store.objects.filter(merchant=current).update(is_active=False)
        # The API reads the merchant's status from its keys' cached verification: every
        # process verifies them again on their next request (now, and once committed, as
        # a revocation does), so a suspension stops the API at once.
        prefixes = list(
            MerchantAPIKey.objects.filter(merchant=current, revoked=False).values_list(
                "prefix", flat=True
            )
        )
        for prefix in prefixes:
            api_key_cache_invalidate(prefix=prefix)
        transaction.on_commit(
            lambda: [api_key_cache_invalidate(prefix=prefix) for prefix in prefixes]
        )
    merchant.status = to_status
    merchant.status_changed_at = now
    return merchant


@transaction.atomic
def checklist_item_complete(
    *, merchant: Merchant, item: str, note: str = "", actor: Actor
) -> OnboardingChecklistItem:
    """Tick a checklist item. Ticking a ticked item changes nothing."""
    if item not in ChecklistItem.values:
        raise DomainError(f"Unknown checklist item {item!r}.", field="item")
    row, _ = locks.checklist_item_lock_or_create(merchant=merchant, item=item)
    if row.done:
        return row
    row.completed_at = timezone.now()
    row.completed_by = actor_user(actor)
    row.note = note[:500]
    row.save(update_fields=["completed_at", "completed_by", "note"])
    _event(
        merchant=merchant,
        kind=MerchantEvent.Kind.CHECKLIST_COMPLETED,
        checklist_item=item,
        reason=note,
        actor=actor,
    )
    return row


@transaction.atomic
def checklist_item_reopen(
    *, merchant: Merchant, item: str, reason: str, actor: Actor
) -> OnboardingChecklistItem:
    if item not in ChecklistItem.values:
        raise DomainError(f"Unknown checklist item {item!r}.", field="item")
    if not (reason or "").strip():
        raise ReasonRequired("Say why the item is reopened.", field="reason")
    row = locks.checklist_item_lock(merchant=merchant, item=item)
    if not row.done:
        return row
    row.completed_at = None
    row.completed_by = None
    row.save(update_fields=["completed_at", "completed_by"])
    _event(
        merchant=merchant,
        kind=MerchantEvent.Kind.CHECKLIST_REOPENED,
        checklist_item=item,
        reason=reason.strip(),
        actor=actor,
    )
    return row


@transaction.atomic
def merchant_update(*, merchant: Merchant, changed: list[str], actor: Actor) -> Merchant:
    """Save staff's edit of the merchant's details (``merchant`` carries the new values,
    ``changed`` names the fields edited), with an event naming them. The status is never
    among them: it moves through ``merchant_transition`` only."""
    if "status" in changed:
        raise InvalidTransition("The status moves through its transitions.", field="status")
    merchant.save()
    if changed:
        _event(
            merchant=merchant,
            kind=MerchantEvent.Kind.DETAILS_CHANGED,
            actor=actor,
            reason="Changed: " + ", ".join(changed),
        )
    return merchant


@transaction.atomic
def merchant_brand_save(*, brand: MerchantBrand, changed: list[str], actor: Actor) -> MerchantBrand:
    """Save the merchant's portal brand (colour, logo), with an event naming what changed."""
    brand.full_clean()
    brand.save()
    if changed:
        _event(
            merchant=brand.merchant,
            kind=MerchantEvent.Kind.DETAILS_CHANGED,
            actor=actor,
            reason="Brand changed: " + ", ".join(changed),
        )
    return brand


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def store_create(
    *,
    merchant: Merchant,
    name: str,
    platform: str,
    domain: str,
    webhook_secret: str | None = None,
    actor: Actor,
) -> tuple[Store, str]:
    """A new store; returns it with its webhook secret (generated unless the platform
    issued one, as Shopify does)."""
    secret = webhook_secret or new_webhook_secret()
    store = Store(
        merchant=merchant,
        name=name,
        platform=platform,
        domain=domain.strip().lower(),
        webhook_secret=secret,
    )
    store.full_clean()
    with transaction.atomic():
        store.save()
        _event(
            merchant=merchant,
            kind=MerchantEvent.Kind.STORE_CREATED,
            reason=f"{store.name} ({store.domain}, {store.platform})",
            actor=actor,
        )
    return store, secret


def _secret_rotate(store: Store, secret: str) -> None:
    if secret == store.webhook_secret:
        return
    store.previous_webhook_secret = store.webhook_secret
    store.webhook_secret_rotated_at = timezone.now()
    store.webhook_secret = secret


@transaction.atomic
def store_save(*, store: Store, webhook_secret: str | None = None, actor: Actor) -> Store:
    """Save a store staff added or edited. A webhook secret given (the platform's, when it
    issues one) replaces the store's; a store that has none gets a random one. A new store
    and a replaced secret each leave an event (naming the store, never the secret)."""
    created = store._state.adding
    if webhook_secret and not created:
        _secret_rotate(store, webhook_secret)
    elif webhook_secret:
        store.webhook_secret = webhook_secret
    elif not store.webhook_secret:
        store.webhook_secret = new_webhook_secret()
    store.save()
    if created:
        kind, reason = (
            MerchantEvent.Kind.STORE_CREATED,
            f"{store.name} ({store.domain}, {store.platform})",
        )
    elif webhook_secret:
        kind, reason = MerchantEvent.Kind.WEBHOOK_SECRET_SET, f"{store.name} ({store.domain})"
    else:
        return store
    _event(merchant=store.merchant, kind=kind, reason=reason, actor=actor)
    return store


@transaction.atomic
def store_set_webhook_secret(*, store: Store, secret: str | None = None, actor: Actor) -> str:
    """Replace a store's webhook secret (a new random one unless given); returns it. The
    one it replaces stays valid for ``WEBHOOK_SECRET_OVERLAP`` (the platform may sign
    with it until the new one reaches it). The event names the store and who set it,
    never the secret."""
    secret = secret or new_webhook_secret()
    _secret_rotate(store, secret)
    store.save(
        update_fields=["webhook_secret", "previous_webhook_secret", "webhook_secret_rotated_at"]
    )
    _event(
        merchant=store.merchant,
        kind=MerchantEvent.Kind.WEBHOOK_SECRET_SET,
        reason=f"{store.name} ({store.domain})",
        actor=actor,
    )
    return secret


def _clean_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    if isinstance(scopes, str):
        scopes = [part for part in scopes.split(",") if part.strip()]
    cleaned = sorted({scope.strip() for scope in scopes})
    unknown = [scope for scope in cleaned if scope not in Scope.values]
    if unknown:
        raise InvalidScope(
            f"Unknown scope(s): {', '.join(unknown)}; use {', '.join(Scope.values)}.",
            field="scopes",
        )
    if not cleaned:
        raise InvalidScope("An API key needs at least one scope.", field="scopes")
    return cleaned


@transaction.atomic
def api_key_issue(
    *,
    merchant: Merchant,
    name: str,
    scopes: list[str] | tuple[str, ...] = (Scope.READ, Scope.WRITE),
    store: Store | None = None,
    expires_at: datetime.datetime | None = None,
    actor: Actor,
) -> tuple[MerchantAPIKey, str]:
    """A new API key. The clear key is returned here once and never stored."""
    if merchant.status in _NO_KEYS_STATUSES:
        raise MerchantNotActive(f"A {merchant.status} merchant cannot get API keys.")
    if store is not None and store.merchant_id != merchant.pk:
        raise DomainError("The store belongs to another merchant.", field="store")
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise DomainError("Name the key (1 to 50 characters).", field="name")
    api_key, raw_key = MerchantAPIKey.objects.create_key(
        name=name,
        merchant=merchant,
        store=store,
        scopes=_clean_scopes(scopes),
        expiry_date=expires_at,
        created_by=actor_user(actor),
    )
    _event(
        merchant=merchant,
        kind=MerchantEvent.Kind.API_KEY_ISSUED,
        reason=f"{api_key.prefix} ({name}; {', '.join(api_key.scopes)})",
        actor=actor,
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(*, api_key: MerchantAPIKey, reason: str = "", actor: Actor) -> MerchantAPIKey:
    """Revoke a key for good. Revoking a revoked key changes nothing."""
    now = timezone.now()
    revoked = MerchantAPIKey.objects.filter(pk=api_key.pk, revoked=False).update(
        revoked=True, revoked_at=now
    )
    if revoked:
        # Every process's cached verification goes now, and again once the revocation is
        # committed: a request that read the key meanwhile cached it under a stamp that
        # this second deletion removes (merchants.selectors.api_key_authenticate).
        api_key_cache_invalidate(prefix=api_key.prefix)
        transaction.on_commit(lambda: api_key_cache_invalidate(prefix=api_key.prefix))
        _event(
            merchant=api_key.merchant,
            kind=MerchantEvent.Kind.API_KEY_REVOKED,
            reason=f"{api_key.prefix} ({api_key.name})" + (f": {reason}" if reason else ""),
            actor=actor,
        )
    api_key.refresh_from_db(fields=["revoked", "revoked_at"])
    api_key._initial_revoked = api_key.revoked
    return api_key


def api_key_touch(*, api_key: MerchantAPIKey) -> None:
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < _LAST_USED_RESOLUTION:
        return
    MerchantAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


@transaction.atomic
def membership_set(
    *, merchant: Merchant, user: object, role: str, actor: Actor
) -> MerchantMembership:
    """Give ``user`` the ``role`` in ``merchant``'s portal (creating or changing it)."""
    membership, _ = MerchantMembership.objects.update_or_create(
        merchant=merchant, user=user, defaults={"role": role}
    )
    membership.full_clean()
    _event(
        merchant=merchant,
        kind=MerchantEvent.Kind.MEMBERSHIP_SET,
        reason=f"{user.get_username()}: {role}",
        actor=actor,
    )
    return membership


# -- the merchant portal's team ---------------------------------------------------------------
#
# Portal users are invited (there is no open sign-up): an invitation makes the user, with an
# unusable password, and the membership, and emails a link that sets the password (a
# password-reset link of the portal's sign-in, valid PASSWORD_RESET_TIMEOUT). Every change
# to the team is a ``membership_set`` event naming who acted. A merchant's portal always
# keeps one owner: the owners are counted under a lock of the merchant's memberships.


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
    _event(
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
    _event(
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
    _event(
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
        _event(
            merchant=membership.merchant,
            kind=MerchantEvent.Kind.MEMBERSHIP_SET,
            reason=f"{membership.user.get_username()}: second factor reset ({reason})",
            actor=actor,
        )
    return removed


@transaction.atomic
def fee_plan_create(
    *,
    merchant: Merchant,
    valid_from: datetime.date,
    monthly_platform_fee: Decimal,
    fee_per_active_member: Decimal,
    fee_per_redemption: Decimal,
    reward_margin_percent: Decimal,
    currency: str | None = None,
    actor: Actor,
) -> FeePlan:
    """A fee plan from ``valid_from`` on; ticks the "fee plan set" checklist item."""
    plan = FeePlan(
        merchant=merchant,
        currency=currency or merchant.default_currency,
        monthly_platform_fee=monthly_platform_fee,
        fee_per_active_member=fee_per_active_member,
        fee_per_redemption=fee_per_redemption,
        reward_margin_percent=reward_margin_percent,
        valid_from=valid_from,
        created_by=actor_user(actor),
    )
    plan.full_clean()
    plan.save()
    checklist_item_complete(
        merchant=merchant,
        item=ChecklistItem.FEE_PLAN_SET,
        note=f"fee plan from {valid_from}",
        actor=actor,
    )
    return plan


def usage_record_post(
    *,
    merchant: Merchant,
    kind: str,
    source_ref: str,
    occurred_at: datetime.datetime,
    currency: str,
    reward_value: Decimal = Decimal(0),
    cost: Decimal | None = None,
    fee: Decimal = Decimal(0),
    quantity: int = 1,
    fee_plan: FeePlan | None = None,
    details: dict | None = None,
) -> UsageRecord:
    """Post a billable event once: posting the same ``kind`` and ``source_ref`` again
    returns the first record unchanged (a retried task never bills twice)."""
    record = UsageRecord(
        merchant=merchant,
        kind=kind,
        source_ref=source_ref,
        occurred_at=occurred_at,
        currency=currency,
        reward_value=reward_value,
        cost=cost,
        fee=fee,
        quantity=quantity,
        fee_plan=fee_plan,
        details=details or {},
    )
    pk = _usage_record_insert(record)
    if pk is None:
        try:
            return UsageRecord.objects.get(merchant=merchant, kind=kind, source_ref=source_ref)
        except UsageRecord.DoesNotExist:
            # Not posted before, so another constraint refused it (SQLite's INSERT OR
            # IGNORE skips a failed CHECK too): the plain insert raises its error.
            record.save(force_insert=True)
            return record
    record.pk = pk
    record._state.adding = False
    record._state.db = router.db_for_write(UsageRecord)
    return record


def _usage_record_insert(record: UsageRecord) -> int | None:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING id``: the new row's id, or ``None`` when
    ``usage_posted_once`` already holds the record (or the database returns no ids).

    One statement in the usual case, where ``get_or_create`` takes four (a read, then the
    insert inside a savepoint). A conflict is no error, so the caller's transaction goes
    on; two posts at once insert one row (the second waits for the first to commit).
    ``bulk_create(ignore_conflicts=True)`` writes the same statement but cannot say
    whether the row went in, hence Django's insert query with the id asked back."""
    using = router.db_for_write(UsageRecord)
    fields = [f for f in UsageRecord._meta.concrete_fields if not f.primary_key]
    query = sql.InsertQuery(UsageRecord, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [record])
    compiler = query.get_compiler(using=using)
    returning = compiler.connection.features.can_return_columns_from_insert
    if returning:
        compiler.returning_fields = [UsageRecord._meta.pk]
    ((statement, params),) = compiler.as_sql()
    with compiler.connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone() if returning else None
    return row[0] if row else None


# -- the outbox and outbound webhooks ---------------------------------------------------------
#
# Every app that has something to tell the merchant's own systems calls ``event_publish`` in
# the transaction of the change: the outbox row commits or rolls back with it. A caller
# that writes through a batch (the order path's one-statement write) passes it, and the
# row joins the batch. Delivery is ``merchants.webhooks.delivery``'s; the endpoints are
# managed by the merchant's owners in the portal and by Operations in the admin.


class _Inserts(Protocol):
    """A batch of writes (``loyalty.batch.WriteBatch``): merchants cannot import it."""

    def insert(self, obj: Model) -> Model: ...


@dataclass(frozen=True, kw_only=True)
class EventInput:
    type: str
    subject: str = ""
    payload: dict
    occurred_at: datetime.datetime
    dedupe_key: str | None = None


# Django's ``Choices.values`` builds its list on every read.
EVENT_TYPES = frozenset(WebhookEventType.values)


def _outbox_row(merchant_id: int, event: EventInput) -> OutboxEvent:
    if event.type not in EVENT_TYPES:
        raise UnknownEventType(f"Unknown event type {event.type!r}.", field="type")
    return OutboxEvent(
        merchant_id=merchant_id,
        type=event.type,
        subject=event.subject,
        payload=event.payload,
        occurred_at=event.occurred_at,
        dedupe_key=event.dedupe_key,
    )


def event_publish(
    *,
    merchant_id: int,
    type: str,
    subject: str = "",
    payload: dict,
    occurred_at: datetime.datetime,
    batch: _Inserts | None = None,
) -> OutboxEvent:
    """Write an event of ``type`` (one of ``WebhookEventType``) to the outbox, in the
    caller's transaction: at once, or queued in the caller's ``batch``, written when the
    caller executes it. ``subject`` is the member's ``external_id`` for a member's event;
    ``payload`` must be JSON (strings for times and amounts)."""
    row = _outbox_row(
        merchant_id,
        EventInput(type=type, subject=subject, payload=payload, occurred_at=occurred_at),
    )
    if batch is None:
        row.save(force_insert=True)
    else:
        batch.insert(row)
    webhooks_nudge_when_committed(merchant_id=merchant_id)
    return row


def events_publish_once(*, merchant_id: int, events: list[EventInput]) -> int:
    """Write announcements that are made once only (each with a ``dedupe_key``): one
    statement for all of them; a key written before is skipped. Returns how many were
    given (the database does not say which were skipped)."""
    rows = [_outbox_row(merchant_id, event) for event in events]
    if any(row.dedupe_key is None for row in rows):
        raise ValueError("an announcement made once needs a dedupe_key")
    if rows:
        OutboxEvent.objects.bulk_create(rows, ignore_conflicts=True)
        webhooks_nudge_when_committed(merchant_id=merchant_id)
    return len(rows)


def _live_key(merchant_id: int) -> str:
    return f"webhooks:live:{merchant_id}"


def webhooks_live_mark(
    *, merchant_ids_live: set[int], merchant_ids_idle: set[int] = frozenset()
) -> None:
    """Remember which merchants have an active endpoint (the dispatcher refreshes this
    every run): ``event_publish`` asks the cache, never the database, whether to nudge."""
    timeout = settings.WEBHOOKS_LIVE_CACHE_SECONDS
    cache.set_many({_live_key(pk): True for pk in merchant_ids_live}, timeout=timeout)
    cache.delete_many([_live_key(pk) for pk in merchant_ids_idle])


def webhooks_nudge_when_committed(*, merchant_id: int) -> None:
    """Once the caller commits, ask a worker to deliver the merchant's new events now
    rather than at the next scheduled run (at most once a second per merchant). Only for
    merchants known to have an active endpoint: a cache read, no query, on every publish."""
    if not cache.get(_live_key(merchant_id)):
        return

    def nudge() -> None:
        from merchants.tasks import dispatch_webhooks

        if cache.add(f"webhooks:nudge:{merchant_id}", True, timeout=1):
            dispatch_webhooks.apply_async(kwargs={"merchant_id": merchant_id}, countdown=1)

    transaction.on_commit(nudge, robust=True)


def _clean_event_types(event_types: list[str] | tuple[str, ...]) -> list[str]:
    chosen = sorted(set(event_types or []))
    unknown = [name for name in chosen if name not in WebhookEventType.values]
    if unknown:
        raise UnknownEventType(f"Unknown event type(s): {', '.join(unknown)}.", field="event_types")
    if not chosen:
        raise UnknownEventType("Choose at least one event type.", field="event_types")
    return chosen


def _clean_endpoint(endpoint: WebhookEndpoint) -> None:
    endpoint.url = (endpoint.url or "").strip()
    if len(endpoint.url) > 500:
        raise UnsafeWebhookURL("Use a URL of at most 500 characters.", field="url")
    url_target(endpoint.url)
    endpoint.description = (endpoint.description or "").strip()[:200]
    endpoint.event_types = _clean_event_types(endpoint.event_types)


def _endpoint_event(endpoint: WebhookEndpoint, what: str, actor: Actor) -> None:
    _event(
        merchant=endpoint.merchant,
        kind=MerchantEvent.Kind.WEBHOOK_ENDPOINT_CHANGED,
        reason=f"{endpoint.url}: {what}",
        actor=actor,
    )


def _endpoints_live_refresh(merchant_id: int) -> None:
    live = WebhookEndpoint.objects.filter(
        merchant_id=merchant_id, status=EndpointStatus.ACTIVE
    ).exists()

    def mark() -> None:
        if live:
            webhooks_live_mark(merchant_ids_live={merchant_id})
        else:
            webhooks_live_mark(merchant_ids_live=set(), merchant_ids_idle={merchant_id})

    transaction.on_commit(mark)


@transaction.atomic
def webhook_endpoint_create(
    *,
    merchant: Merchant,
    url: str,
    event_types: list[str],
    description: str = "",
    actor: Actor,
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint; returns it with its secret, shown to the owner this once.
    The URL must pass the SSRF guard (``UnsafeWebhookURL`` on ``url``). The endpoint hears
    of the events written from now on."""
    secret = webhook_secret_new()
    endpoint = WebhookEndpoint(
        merchant=merchant,
        url=url,
        description=description,
        event_types=list(event_types or []),
        secret=secret,
        created_by=actor_user(actor),
    )
    _clean_endpoint(endpoint)
    endpoint.save()
    _endpoint_event(endpoint, "added", actor)
    _endpoints_live_refresh(merchant.pk)
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str,
    event_types: list[str],
    description: str = "",
    actor: Actor,
) -> WebhookEndpoint:
    """Change an endpoint's URL, description or event types (checked as on creation)."""
    before = (endpoint.url, endpoint.description, list(endpoint.event_types))
    endpoint.url, endpoint.description, endpoint.event_types = url, description, event_types
    _clean_endpoint(endpoint)
    after = (endpoint.url, endpoint.description, list(endpoint.event_types))
    if after == before:
        return endpoint
    endpoint.save(update_fields=["url", "description", "event_types", "updated_at"])
    changed = [
        name
        for name, old, new in zip(("URL", "description", "event types"), before, after, strict=True)
        if old != new
    ]
    _endpoint_event(endpoint, "changed " + ", ".join(changed), actor)
    return endpoint


def webhook_endpoint_disable(
    *, endpoint: WebhookEndpoint, reason: str, actor: Actor
) -> WebhookEndpoint:
    """Stop sending to the endpoint: its pending deliveries are given up (a replay sends
    one again once it is enabled). Disabling a disabled endpoint changes nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the endpoint is disabled.", field="reason")
    now = timezone.now()
    with transaction.atomic():
        moved = WebhookEndpoint.objects.filter(pk=endpoint.pk, status=EndpointStatus.ACTIVE).update(
            status=EndpointStatus.DISABLED,
            disabled_reason=reason[:300],
            disabled_at=now,
            updated_at=now,
        )
        if moved:
            WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.FAILED,
                next_attempt_at=None,
                last_error="The endpoint was disabled.",
            )
            _endpoint_event(endpoint, f"disabled ({reason[:200]})", actor)
            _endpoints_live_refresh(endpoint.merchant_id)
    endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def webhook_endpoint_enable(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEndpoint:
    """Send to a disabled endpoint again, from the events written from now on (a replay
    sends earlier ones); its run of failures starts afresh."""
    now = timezone.now()
    moved = WebhookEndpoint.objects.filter(pk=endpoint.pk, status=EndpointStatus.DISABLED).update(
        status=EndpointStatus.ACTIVE,
        disabled_reason="",
        disabled_at=None,
        failing_since=None,
        updated_at=now,
    )
    if moved:
        _endpoint_event(endpoint, "enabled", actor)
        _endpoints_live_refresh(endpoint.merchant_id)
    endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint, actor: Actor) -> str:
    """A new signing secret, returned to be shown once. For ``WEBHOOKS_SECRET_OVERLAP`` the
    requests carry a signature with the previous secret too, so the receiver can switch
    without refusing any."""
    secret = webhook_secret_new()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + datetime.timedelta(
        hours=settings.WEBHOOKS_SECRET_OVERLAP_HOURS
    )
    endpoint.secret = secret
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    _endpoint_event(endpoint, "secret rotated", actor)
    return secret


def webhook_delivery_may_replay(*, delivery: WebhookDelivery) -> bool:
    """Whether a delivery may be sent again: one that is not waiting to be sent, to an
    active endpoint."""
    return delivery.status != DeliveryStatus.PENDING and delivery.endpoint.is_active


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Send a delivered or given-up event again, now, with a fresh retry schedule and the
    same ``webhook-id`` (a receiver that has it already may skip it). A replay is out of
    the member's order by intent: it waits for nothing and holds back nothing."""
    if not webhook_delivery_may_replay(delivery=delivery):
        raise InvalidTransition(
            "Only a delivered or given-up event to an active endpoint can be sent again.",
            field="delivery",
        )
    now = timezone.now()
    moved = WebhookDelivery.objects.filter(pk=delivery.pk, status=delivery.status).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now, replayed_at=now, last_error=""
    )
    if not moved:
        raise InvalidTransition("The delivery changed meanwhile; try again.", field="delivery")
    _endpoint_event(delivery.endpoint, f"event {delivery.event_id} replayed", actor)
    _delivery_send_when_committed(delivery.pk)
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def webhook_test_send(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookDelivery:
    """A ``webhook.test`` event to this endpoint alone, sent once this commits."""
    if not endpoint.is_active:
        raise InvalidTransition("Enable the endpoint first.", field="endpoint")
    now = timezone.now()
    event = OutboxEvent.objects.create(
        merchant_id=endpoint.merchant_id,
        type=TEST_EVENT,
        payload={"message": "A test event: your endpoint receives and verifies webhooks."},
        occurred_at=now,
        dispatched_at=now,
    )
    delivery = WebhookDelivery.objects.create(
        merchant_id=endpoint.merchant_id, endpoint=endpoint, event=event, next_attempt_at=now
    )
    _delivery_send_when_committed(delivery.pk)
    return delivery


def _delivery_send_when_committed(delivery_id: int) -> None:
    from merchants.tasks import deliver_webhook

    transaction.on_commit(lambda: deliver_webhook.delay(delivery_id), robust=True)
