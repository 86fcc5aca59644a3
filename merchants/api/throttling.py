"""Throttling of the store API: a budget of requests per key, and a budget of failed
authentications per client address.

Failed authentications (a bad, malformed or missing key) are counted per client address
in fixed windows (``API_AUTH_FAILURE_RATE``, e.g. ``20/min``), in Django's cache, so
every web process and host counts together when the cache is Redis. Once an address has
spent its budget, every request from it is refused with 429 until the window ends, a
correct key included: otherwise a guesser would learn which guess was right. Requests
that authenticate spend nothing.

The client address is ``core.client_address.client_ip`` (``REMOTE_ADDR``, or the
entry the outermost trusted proxy added to ``X-Forwarded-For``). An IPv6 client is
counted by its /64 prefix, the block one subscriber is usually given.
"""

import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from core.client_address import client_ip
from merchants.models import MerchantAPIKey


class APIKeyRateThrottle(SimpleRateThrottle):
    """One budget per API key (``API_THROTTLE_RATE``); unauthenticated calls are refused
    before they get here."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: object) -> str | None:
        if not isinstance(request.auth, MerchantAPIKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}


# -- failed authentications per client address ----------------------------------------------


@dataclass(frozen=True)
class _Rate:
    failures: int
    seconds: int


def _rate() -> _Rate | None:
    """``API_AUTH_FAILURE_RATE``, (failures, seconds) as the settings parse it; None is off."""
    if settings.API_AUTH_FAILURE_RATE is None:
        return None
    failures, seconds = settings.API_AUTH_FAILURE_RATE
    return _Rate(failures=failures, seconds=seconds)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_address(request: HttpRequest | Request) -> str:
    """Who sent the request, as counted for failed authentications."""
    address = _ip(client_ip(request)) or _ip(request.META.get("REMOTE_ADDR", ""))
    if address is None:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _window(rate: _Rate, now: float) -> tuple[str, int]:
    """The cache key of the window ``now`` falls in, and the seconds left in it."""
    start = int(now // rate.seconds) * rate.seconds
    return f"{start}", max(1, math.ceil(start + rate.seconds - now))


def _key(address: str, window: str) -> str:
    return f"api-auth-failures:{address}:{window}"


def auth_failures_check(*, address: str, now: float | None = None) -> None:
    """Refuse (429) an address that has spent its budget in the current window."""
    rate = _rate()
    if rate is None:
        return
    window, left = _window(rate, time.time() if now is None else now)
    if cache.get(_key(address, window), 0) >= rate.failures:
        raise exceptions.Throttled(
            wait=left, detail="Too many failed authentications from this address."
        )


def auth_failure_record(*, address: str, now: float | None = None) -> None:
    """Count one failed authentication against the address."""
    rate = _rate()
    if rate is None:
        return
    window, _ = _window(rate, time.time() if now is None else now)
    key = _key(address, window)
    # add + incr: atomic on Redis, so concurrent failures on many hosts all count.
    cache.add(key, 0, timeout=rate.seconds + 1)
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, timeout=rate.seconds + 1)
