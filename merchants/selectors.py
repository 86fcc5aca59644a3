"""Reads of merchant data used by more than one caller. Tenant rows are fetched only
through the merchant they belong to."""

import datetime
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model, QuerySet

from core.exceptions import NotFound
from merchants.models import (
    MERCHANT_TRANSITIONS,
    ChecklistItem,
    FeePlan,
    Invoice,
    InvoiceStatus,
    Merchant,
    MerchantAPIKey,
    MerchantBrand,
    MerchantMembership,
    MerchantStatus,
    MonthlyReport,
    Store,
)


def merchant_get(*, slug: str) -> Merchant:
    try:
        return Merchant.objects.get(slug=slug)
    except Merchant.DoesNotExist:
        raise NotFound(f"No merchant with slug {slug!r}.", field="slug") from None


def merchant_id_by_slug(*, slug: str) -> int:
    return merchant_get(slug=slug).pk


def merchant_transition_path(*, from_status: str, to_status: str) -> list[str]:
    """The shortest run of allowed moves from one status to another (empty if equal);
    raises ValueError when ``to_status`` cannot be reached."""
    paths: dict[str, list[str]] = {from_status: []}
    frontier = [from_status]
    while frontier:
        status = frontier.pop(0)
        if status == to_status:
            return paths[status]
        for following in sorted(MERCHANT_TRANSITIONS[status]):
            if following not in paths:
                paths[following] = [*paths[status], following]
                frontier.append(following)
    raise ValueError(f"{to_status} cannot be reached from {from_status}")


def checklist_missing(*, merchant: Merchant) -> list[str]:
    """The checklist items not yet completed, in checklist order."""
    done = set(merchant.checklist.filter(completed_at__isnull=False).values_list("item", flat=True))
    return [item for item in ChecklistItem.values if item not in done]


def store_list(*, merchant: Merchant) -> QuerySet[Store]:
    return Store.objects.filter(merchant=merchant)


def store_get(*, merchant: Merchant, pk: int) -> Store:
    try:
        return store_list(merchant=merchant).get(pk=pk)
    except (Store.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such store.") from None


# How long a replaced webhook secret still verifies (Shopify may take up to an hour to
# start signing with a new one).
WEBHOOK_SECRET_OVERLAP = datetime.timedelta(hours=1)


def store_webhook_secrets(*, store: Store, at: datetime.datetime) -> list[str]:
    """The secrets a delivery to ``store`` may be signed with at ``at``: its own, and the
    one it replaced while the overlap lasts."""
    secrets = [store.webhook_secret]
    rotated = store.webhook_secret_rotated_at
    if store.previous_webhook_secret and rotated and at - rotated < WEBHOOK_SECRET_OVERLAP:
        secrets.append(store.previous_webhook_secret)
    return secrets


def api_key_list(*, merchant: Merchant) -> QuerySet[MerchantAPIKey]:
    return MerchantAPIKey.objects.filter(merchant=merchant).select_related("store")


def api_key_get(*, merchant: Merchant, pk: str) -> MerchantAPIKey:
    try:
        return api_key_list(merchant=merchant).get(pk=pk)
    except MerchantAPIKey.DoesNotExist:
        raise NotFound("No such API key.") from None


# -- API key verification, cached -----------------------------------------------------------
#
# Verifying a key costs a query (the key, its merchant and store) and a SHA-512 check; the
# store API does it on every request. A verified key is kept in this process for
# API_KEY_CACHE_SECONDS, under the SHA-256 of the whole key (only the exact key finds it),
# with the *stamp* of its prefix: a random token kept in Django's cache (Redis in
# production, shared by every process). A revocation deletes the stamp
# (``api_key_cache_invalidate``), so the next request of every process finds no stamp, or
# a new one, and verifies the key against the database again.
#
# Why no revoked key survives: a request takes (or makes) the stamp *before* it reads the
# key from the database, and the revocation deletes it *after* its commit (and once before,
# for callers inside a longer transaction). A read that missed the revocation therefore
# took a stamp the revocation then deleted, and its entry can never match again.
#
# Other changes to a key or its merchant (an onboarding status, a scope, an expiry) are
# seen within API_KEY_CACHE_SECONDS, except the merchant's ``config_version``, which is
# never cached; each request gets its own instances, never the cached ones. A key answered
# from the cache is marked ``from_cache``: it was touched when read.

API_KEY_CACHE_SECONDS = 5.0
_API_KEY_CACHE_MAX = 1000


@dataclass(frozen=True)
class _Verified:
    until: float
    stamp: str
    rows: tuple[tuple[type, tuple[str, ...], tuple], ...]  # key, merchant, store


_verified: dict[bytes, _Verified] = {}


def _stamp_key(prefix: str) -> str:
    return f"api-key-stamp:{prefix}"


def _stamp(prefix: str) -> str | None:
    """The prefix's current stamp, made if there is none (None if the cache refuses)."""
    key = _stamp_key(prefix)
    stamp = cache.get(key)
    if stamp is None:
        token = secrets.token_hex(8)
        stamp = token if cache.add(key, token, timeout=None) else cache.get(key)
    return stamp


# Never served from the cache: the token that says whether the program's configuration
# changed (``loyalty.program_config``) must be the database's. Left deferred, it is read
# (one query) by the requests that use it.
_NOT_CACHED = frozenset({"config_version"})


def _row(obj: Model) -> tuple[type, tuple[str, ...], tuple]:
    names = tuple(
        field.attname for field in obj._meta.concrete_fields if field.attname not in _NOT_CACHED
    )
    return type(obj), names, tuple(getattr(obj, name) for name in names)


def _fresh(verified: _Verified) -> MerchantAPIKey:
    """New instances of the cached rows, as a query would give them."""
    key, merchant, store = (
        model.from_db(DEFAULT_DB_ALIAS, names, values) if model else None
        for model, names, values in verified.rows
    )
    key.merchant = merchant
    key.store = store
    return key


def api_key_cache_invalidate(*, prefix: str) -> None:
    """Make every process verify the key with ``prefix`` against the database again."""
    cache.delete(_stamp_key(prefix))


def api_key_authenticate(*, raw_key: str) -> MerchantAPIKey | None:
    """The usable key matching ``raw_key``, with its merchant and store loaded, or None.

    From this process's cache while the prefix's stamp is unchanged; otherwise one indexed
    query on the visible prefix, then a constant-time comparison of hashes.
    """
    prefix, dot, secret = raw_key.partition(".")
    if not (dot and prefix and secret) or len(prefix) > 8:
        return None
    digest = hashlib.sha256(raw_key.encode()).digest()
    stamp = _stamp(prefix)
    verified = _verified.get(digest)
    if verified is not None and verified.stamp == stamp and verified.until > time.monotonic():
        key = _fresh(verified)
        # Touched when it was read, at most API_KEY_CACHE_SECONDS ago (api_key_touch).
        key.from_cache = True
        return None if key.has_expired else key
    try:
        key = (
            MerchantAPIKey.objects.get_usable_keys()
            .select_related("merchant", "store")
            .get(prefix=prefix)
        )
    except MerchantAPIKey.DoesNotExist:
        return None
    if key.has_expired or not key.is_valid(raw_key):
        return None
    if stamp is not None:
        if len(_verified) >= _API_KEY_CACHE_MAX:
            _verified.clear()
        store = _row(key.store) if key.store_id else (None, (), ())
        _verified[digest] = _Verified(
            until=time.monotonic() + API_KEY_CACHE_SECONDS,
            stamp=stamp,
            rows=(_row(key), _row(key.merchant), store),
        )
    return key


def fee_plan_current(*, merchant: Merchant, on: datetime.date) -> FeePlan | None:
    return merchant.fee_plans.filter(valid_from__lte=on).order_by("-valid_from").first()


def membership_list(*, merchant: Merchant) -> QuerySet[MerchantMembership]:
    """The merchant's portal team, with their users, by email."""
    return (
        MerchantMembership.objects.filter(merchant=merchant)
        .select_related("user")
        .order_by("user__email", "pk")
    )


def membership_get(*, merchant: Merchant, pk: object) -> MerchantMembership:
    try:
        return membership_list(merchant=merchant).get(pk=pk)
    except (MerchantMembership.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such member of the team.") from None


# A merchant out of the program for good has no portal; a suspended one keeps it (its
# reports and invoices stay readable while the suspension is sorted out).
PORTAL_CLOSED_STATUSES = frozenset({MerchantStatus.REJECTED, MerchantStatus.OFFBOARDED})


def memberships_of_user(*, user: object) -> QuerySet[MerchantMembership]:
    """The portals a user may open: one membership per merchant whose portal is open, by
    merchant name."""
    if not getattr(user, "is_authenticated", False):
        return MerchantMembership.objects.none()
    return (
        MerchantMembership.objects.filter(user=user)
        .exclude(merchant__status__in=PORTAL_CLOSED_STATUSES)
        .select_related("merchant")
        .order_by("merchant__name", "pk")
    )


def membership_of_user(*, user: object, pk: object) -> MerchantMembership | None:
    """The user's own membership ``pk`` (None if it is gone or another user's)."""
    try:
        return memberships_of_user(user=user).filter(pk=int(pk)).first()
    except (ValueError, TypeError):
        return None


def monthly_report_list(*, merchant: Merchant) -> QuerySet[MonthlyReport]:
    """The merchant's reports, newest month first, without their PDFs."""
    return MonthlyReport.objects.filter(merchant=merchant).defer("pdf").order_by("-month")


def monthly_report_get(*, merchant: Merchant, public_id: object) -> MonthlyReport:
    try:
        return MonthlyReport.objects.get(merchant=merchant, public_id=public_id)
    except (MonthlyReport.DoesNotExist, ValueError, ValidationError):
        raise NotFound("No such report.", field="public_id") from None


def invoice_list(*, merchant: Merchant) -> QuerySet[Invoice]:
    """The merchant's issued, paid and void invoices and its credit notes, newest first;
    drafts are Finance's work in progress and never shown."""
    return (
        Invoice.objects.filter(merchant=merchant)
        .exclude(status=InvoiceStatus.DRAFT)
        .select_related("credited_invoice")
        .order_by("-issued_on", "-number_year", "-number_sequence", "-id")
    )


def invoice_get(*, merchant: Merchant, public_id: uuid.UUID | str) -> Invoice:
    """One of the merchant's invoices (or credit notes) as ``invoice_list`` shows them;
    another merchant's, a draft or a malformed id is ``NotFound``."""
    try:
        return invoice_list(merchant=merchant).get(public_id=uuid.UUID(str(public_id)))
    except (Invoice.DoesNotExist, ValueError, TypeError, AttributeError):
        raise NotFound("No such invoice.") from None


def merchant_brand(*, merchant: Merchant) -> MerchantBrand:
    """The merchant's brand, or an unsaved empty one (the portal's own colours, no logo)."""
    return MerchantBrand.objects.filter(merchant=merchant).first() or MerchantBrand(
        merchant=merchant
    )


def merchant_shop_url(*, merchant_id: int) -> str:
    """Where "the shop" is for the merchant's members: the address on its brand, else its
    first active store's domain; empty when it has neither. Two queries at most."""
    shop_url = (
        MerchantBrand.objects.filter(merchant_id=merchant_id)
        .values_list("shop_url", flat=True)
        .first()
    )
    if shop_url:
        return shop_url
    domain = (
        Store.objects.filter(merchant_id=merchant_id, is_active=True)
        .exclude(domain="")
        .order_by("pk")
        .values_list("domain", flat=True)
        .first()
    )
    return f"https://{domain.strip().strip('/')}/" if domain else ""
