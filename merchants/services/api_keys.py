"""A merchant's API keys: issued (the clear key returned once), revoked, touched when used."""

import datetime

from django.db import transaction
from django.utils import timezone

from core.actors import Actor, actor_user
from core.exceptions import DomainError
from merchants.exceptions import InvalidScope, MerchantNotActive
from merchants.models import Merchant, MerchantAPIKey, MerchantEvent, MerchantStatus, Scope, Store
from merchants.selectors import api_key_cache_invalidate
from merchants.services.history import merchant_event_record

# Keys cannot be issued to merchants that are out of the program for good.
_NO_KEYS_STATUSES = frozenset({MerchantStatus.REJECTED, MerchantStatus.OFFBOARDED})
# last_used_at is a hint for ops, not an audit trail: write it at most once a minute per
# key, so that a busy integration does not turn every read into a write.
_LAST_USED_RESOLUTION = datetime.timedelta(seconds=60)


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
    merchant_event_record(
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
        merchant_event_record(
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
