"""One POST to a checked address (``address.Target``), with nothing followed or guessed.

The connection goes to ``target.address``, the address the guard checked, while ``Host``,
TLS's SNI and the certificate check use the name: the name is never resolved again (no
DNS-rebinding gap). The standard library's ``http.client`` follows no redirects, uses no
proxy from the environment and reads only what is asked of it: the first
``RESPONSE_KEEP`` bytes of the answer are kept for the log, the rest is not read.

``timeout`` bounds the connection and each read; a request that exceeds it is an error
like any other network failure (``Answer.error``)."""

import datetime
import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from django.utils import timezone
from django.utils.http import parse_http_date

from merchants.webhooks.address import Target

RESPONSE_KEEP = 2048


@dataclass(frozen=True, kw_only=True)
class Answer:
    status: int | None  # None: no HTTP answer (``error`` says why)
    body: str = ""
    error: str = ""
    duration_ms: int = 0
    retry_after: datetime.timedelta | None = None  # what a 429 or 503 asked us to wait


# Answers that say "not now": their Retry-After is honoured.
RETRY_AFTER_STATUSES = frozenset((429, 503))


def retry_after(value: str | None, now: datetime.datetime) -> datetime.timedelta | None:
    """A ``Retry-After`` header (RFC 9110: seconds, or an HTTP date) as a wait from
    ``now``; None when absent, unreadable or already past."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        # Nine digits are three years, more than any wait is kept to.
        return datetime.timedelta(seconds=int(value) if len(value) <= 9 else 10**9)
    try:
        at = datetime.datetime.fromtimestamp(parse_http_date(value), tz=datetime.UTC)
    except ValueError:
        return None
    wait = at - now
    return wait if wait > datetime.timedelta(0) else None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # server_hostname: SNI and the certificate's name check are for the host name.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(*, target: Target, headers: dict[str, str], body: bytes, timeout: float) -> Answer:
    """POST ``body`` to ``target``; never raises for what the network or the receiver does."""
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout)
    started = time.monotonic()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        kept = response.read(RESPONSE_KEEP)
        return Answer(
            status=response.status,
            body=kept.decode("utf-8", errors="replace"),
            duration_ms=_since(started),
            retry_after=retry_after(response.getheader("retry-after"), timezone.now())
            if response.status in RETRY_AFTER_STATUSES
            else None,
        )
    except (OSError, http.client.HTTPException, ssl.SSLError) as error:
        return Answer(status=None, error=_describe(error), duration_ms=_since(started))
    finally:
        connection.close()


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _describe(error: Exception) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]
