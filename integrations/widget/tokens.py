"""The member token of the storefront widget: the store's backend says who is signed in.

The contract (README.md, "Storefront widget", repeats it for store developers):

- The signed message is the UTF-8 text ``widget-v1|{store_public_id}|{external_id}|{expires}``:
  the store's public id as a lowercase UUID with hyphens, the member's ``external_id`` as
  the store API knows it, and the expiry in unix seconds (a decimal integer).
- The signature is the lowercase hex HMAC-SHA256 of that message, keyed with the store's
  webhook secret (the secret it replaced still verifies for an hour after a rotation).
- The token is ``{external_id}:{expires}:{signature}``. External ids may contain ``:``;
  the expiry and the signature are the last two fields, read from the right.
- A token is accepted until ``expires`` and only when ``expires`` is at most ten minutes
  ahead (``MAX_LIFETIME``), with a minute's allowance for a store's clock (``CLOCK_SKEW``):
  a page that leaks its token gives read access to one member's summary for minutes.

The ``widget-v1|`` prefix keeps the two uses of the webhook secret apart: a webhook body
is JSON and starts with ``{``, so no webhook signature is ever a valid token, and no token
signature signs a webhook.

Pure: no ORM; the caller gives the secrets and the time.
"""

import datetime
import hashlib
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from integrations.widget.exceptions import (
    TokenExpired,
    TokenExpiryTooFar,
    TokenInvalid,
    TokenMissing,
)
from loyalty.external_ids import is_external_id

MAX_LIFETIME = datetime.timedelta(minutes=10)
CLOCK_SKEW = datetime.timedelta(minutes=1)
# An external id is at most 128 characters, the expiry 10 digits, the signature 64.
MAX_TOKEN_LENGTH = 256
_HEX = frozenset("0123456789abcdef")


def token_message(*, store_public_id: uuid.UUID | str, external_id: str, expires: int) -> bytes:
    return f"widget-v1|{uuid.UUID(str(store_public_id))}|{external_id}|{expires}".encode()


def token_signature(
    *, secret: str, store_public_id: uuid.UUID | str, external_id: str, expires: int
) -> str:
    message = token_message(
        store_public_id=store_public_id, external_id=external_id, expires=expires
    )
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def token_make(
    *, secret: str, store_public_id: uuid.UUID | str, external_id: str, expires: int
) -> str:
    """What a store's backend does (the README's examples do the same in a few lines)."""
    signature = token_signature(
        secret=secret, store_public_id=store_public_id, external_id=external_id, expires=expires
    )
    return f"{external_id}:{expires}:{signature}"


@dataclass(frozen=True, kw_only=True)
class VerifiedToken:
    external_id: str
    expires: int


def token_verify(
    token: str | None,
    *,
    store_public_id: uuid.UUID | str,
    secrets: Iterable[str],
    at: datetime.datetime,
) -> VerifiedToken:
    """The member ``token`` names for this store, or a ``TokenRefused`` error saying why.

    The signature is checked before the expiry, so an expired or far-off token is reported
    as such only when it is genuine; every secret is compared in constant time, all of
    them, so the time taken says nothing about which (if any) came close."""
    if not token:
        raise TokenMissing()
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid()
    head, _, signature = token.rpartition(":")
    external_id, _, expires_text = head.rpartition(":")
    if not (
        is_external_id(external_id)
        and expires_text.isascii()
        and expires_text.isdigit()
        and len(expires_text) <= 12
        and len(signature) == 64
        and set(signature) <= _HEX
    ):
        raise TokenInvalid()
    expires = int(expires_text)
    matched = False
    for secret in secrets:
        if not secret:
            continue
        expected = token_signature(
            secret=secret,
            store_public_id=store_public_id,
            external_id=external_id,
            expires=expires,
        )
        if hmac.compare_digest(expected, signature):
            matched = True
    if not matched:
        raise TokenInvalid()
    now = at.timestamp()
    if expires <= now - CLOCK_SKEW.total_seconds():
        raise TokenExpired()
    if expires > now + (MAX_LIFETIME + CLOCK_SKEW).total_seconds():
        raise TokenExpiryTooFar()
    return VerifiedToken(external_id=external_id, expires=expires)
