"""Platform webhook signatures: Shopify and WooCommerce both send the base64 HMAC-SHA256
of the raw body, keyed with the store's webhook secret."""

import base64
import hashlib
import hmac
from collections.abc import Iterable


def body_signature(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_matches(body: bytes, given: str, secrets: Iterable[str]) -> bool:
    """Whether ``given`` signs ``body`` with one of ``secrets``. Every secret is compared
    in constant time, and all of them are tried, so the time taken says nothing about
    which (if any) came close."""
    given_bytes = given.strip().encode()
    matched = False
    for secret in secrets:
        if secret and hmac.compare_digest(body_signature(body, secret).encode(), given_bytes):
            matched = True
    return matched
