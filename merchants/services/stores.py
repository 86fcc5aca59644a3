"""A merchant's stores, their webhook secrets, and the rhythm of their events."""

import datetime
import secrets

from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from merchants import silence
from merchants.models import Merchant, MerchantEvent, Store
from merchants.services.history import merchant_event_record


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
        merchant_event_record(
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
    merchant_event_record(merchant=store.merchant, kind=kind, reason=reason, actor=actor)
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
    merchant_event_record(
        merchant=store.merchant,
        kind=MerchantEvent.Kind.WEBHOOK_SECRET_SET,
        reason=f"{store.name} ({store.domain})",
        actor=actor,
    )
    return secret


RHYTHM_FIELDS = [
    "last_event_at",
    "event_gaps",
    "usual_event_gap",
    "longest_event_gap",
    "silent_after",
]


def store_rhythm(store: Store) -> silence.Rhythm:
    return silence.Rhythm(
        last_event_at=store.last_event_at,
        gaps=store.event_gaps,
        usual_gap=store.usual_event_gap,
        longest_gap=store.longest_event_gap,
        silent_after=store.silent_after,
    )


def store_event_record(*, store: Store, at: datetime.datetime | None = None) -> None:
    """The store sent something (an order, a platform webhook): learn its rhythm
    (``merchants.silence``). A hint for ops, like an API key's last use: no actor, no
    history row, and within a minute of its last event nothing is written at all (no
    query either, when ``store`` was read fresh), so a busy store costs one UPDATE a
    minute.

    The update is a compare-and-swap on ``last_event_at``: of several requests that learn
    from the same gap at once, one writes and the others find, on reading the row again,
    an event under a minute old; no gap is learned twice or lost."""
    at = at or timezone.now()
    for _ in range(3):
        learned = silence.heard(store_rhythm(store), at)
        if learned is None:
            return
        values = {
            "last_event_at": learned.last_event_at,
            "event_gaps": learned.gaps,
            "usual_event_gap": learned.usual_gap,
            "longest_event_gap": learned.longest_gap,
            "silent_after": learned.silent_after,
        }
        if Store.objects.filter(pk=store.pk, last_event_at=store.last_event_at).update(**values):
            for name, value in values.items():
                setattr(store, name, value)
            return
        store.refresh_from_db(fields=RHYTHM_FIELDS)
