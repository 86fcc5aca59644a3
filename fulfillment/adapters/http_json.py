"""A generic gift-card aggregator over HTTP and JSON (standard library only).

Settings (``SETTINGS``): ``base_url`` (https, or http to this machine's loopback address;
no credentials, query or fragment in it; the API key is sent there, so changing it needs
the permission that changes the key), ``api_key`` (a secret, sent as ``Authorization:
Bearer``), ``timeout_s`` (seconds per socket operation, 0.1 to 60, 10 unless set).

The protocol:

- ``POST {base_url}/orders`` with an ``Idempotency-Key`` header and the body
  ``{"idempotency_key", "sku", "country", "face_value" (a string), "currency",
  "quantity", "recipient", "reference"}``; the answer is an order. The same key again
  answers the original order (200, or 409 holding it).
- ``GET {base_url}/orders/{idempotency_key}``: the order, or 404 when never seen.
- ``POST {base_url}/orders/{supplier_ref}/cancel``: 2xx done; 404, 409 or 422 not
  possible.

An order is ``{"id", "status": delivered|submitted|failed|cancelled, "codes": [{"code",
"pin", "claim_url", "expires_on"}], "tracking": {"carrier", "number"} | null,
"cost": "12.50" | null, "error": {"message", "retryable"} | null}``.

How ``place`` classifies what goes wrong:

- the supplier could not be reached (refused, DNS, connect timeout): retryable;
- the request went out and no answer came back (read timeout, dropped connection):
  unknown, and so is an answer that is not a well-formed order, and a 504 (a gateway
  gave up waiting for a supplier that may have placed the order);
- other 5xx, 408 and 429: retryable; other 4xx: terminal.

The API key never reaches a log line or an error message.
"""

import datetime
import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal, InvalidOperation
from typing import Any

from catalog.supplier_settings import Setting, SettingKind, SettingsSchema
from fulfillment.adapters.base import (
    AdapterError,
    DeliveredCode,
    OrderRequest,
    OrderResult,
    OrderStatus,
    RetryableError,
    SupplierAdapter,
    TerminalError,
    Tracking,
    UnknownOutcome,
)

logger = logging.getLogger("fulfillment.adapters.http_json")

DEFAULT_TIMEOUT_S = 10.0
MAX_BODY_BYTES = 1_000_000
MAX_MESSAGE_CHARS = 200
RETRYABLE_4XX = frozenset({408, 429})
NOT_CANCELLABLE = frozenset({404, 409, 422})

SETTINGS = SettingsSchema(
    (
        Setting(
            name="base_url",
            label="Base URL",
            kind=SettingKind.URL,
            required=True,
            routes_secrets=True,
            help_text="The aggregator's API root, https://…; the API key is sent there.",
        ),
        Setting(
            name="api_key",
            label="API key",
            kind=SettingKind.SECRET,
            help_text="Sent as Authorization: Bearer.",
        ),
        Setting(
            name="timeout_s",
            label="Timeout (seconds)",
            kind=SettingKind.NUMBER,
            min_value=0.1,
            max_value=60,
            help_text=f"Per socket operation; {DEFAULT_TIMEOUT_S:g} unless set.",
        ),
    )
)


class _NotSent(Exception):
    """The request never reached the supplier."""


class _NoAnswer(Exception):
    """The request was sent; no (complete) answer came back."""


class Malformed(ValueError):
    """An answer that is not a well-formed order."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would turn the POST of an order into a GET; answer the 3xx as it is.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpJsonAdapter(SupplierAdapter):
    name = "http_json"
    settings_schema = SETTINGS

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.base_url = self.config["base_url"].rstrip("/")
        self._api_key = self.config.get("api_key", "")
        self.timeout_s = float(self.config.get("timeout_s", DEFAULT_TIMEOUT_S))
        self._opener = urllib.request.build_opener(_NoRedirects)

    # -- the three calls ------------------------------------------------------------------

    def place(self, request: OrderRequest) -> OrderResult:
        key = request.idempotency_key
        body = {
            "idempotency_key": key,
            "sku": request.supplier_sku,
            "country": request.country,
            "face_value": str(request.face_value),
            "currency": request.currency,
            "quantity": request.quantity,
            "recipient": request.recipient,
            "reference": request.reference,
        }
        try:
            status, raw = self._send("POST", "/orders", body=body, idempotency_key=key)
        except _NotSent as error:
            return OrderResult.failure(
                RetryableError(f"POST /orders: the supplier could not be reached ({error})")
            )
        except _NoAnswer as error:
            return OrderResult.failure(
                UnknownOutcome(f"POST /orders: no answer after the order was sent ({error})")
            )
        if 200 <= status < 300:
            try:
                return parse_order(_json(raw))
            except Malformed as error:
                return OrderResult.failure(UnknownOutcome(f"POST /orders: {error}"))
        if status == 409:
            return self._replayed(key, raw)
        return OrderResult.failure(_status_error("POST /orders", status, raw))

    def lookup(self, idempotency_key: str, supplier_ref: str | None = None) -> OrderResult | None:
        # Keys hold only characters a path segment takes as they are (":" included).
        path = f"/orders/{urllib.parse.quote(idempotency_key, safe=':')}"
        try:
            status, raw = self._send("GET", path)
        except (_NotSent, _NoAnswer) as error:
            # A read changes nothing: asking again is always safe.
            raise RetryableError(f"GET {path}: no answer from the supplier ({error})") from None
        if status == 404:
            return None
        if 200 <= status < 300:
            try:
                return parse_order(_json(raw))
            except Malformed as error:
                raise UnknownOutcome(f"GET {path}: {error}") from None
        error = _status_error(f"GET {path}", status, raw)
        if error.unknown:  # a 504 on a read: just ask again
            raise RetryableError(error.message)
        raise error

    def cancel(self, supplier_ref: str) -> bool:
        path = f"/orders/{urllib.parse.quote(supplier_ref, safe='')}/cancel"
        try:
            status, raw = self._send("POST", path, body={})
        except _NotSent as error:
            raise RetryableError(
                f"POST {path}: the supplier could not be reached ({error})"
            ) from None
        except _NoAnswer as error:
            raise UnknownOutcome(f"POST {path}: no answer after it was sent ({error})") from None
        if 200 <= status < 300:
            return True
        if status in NOT_CANCELLABLE:
            return False
        raise _status_error(f"POST {path}", status, raw)

    # -- HTTP -----------------------------------------------------------------------------

    def _replayed(self, key: str, raw: bytes) -> OrderResult:
        """A 409: the key was used before. The answer should hold the original order;
        when it does not, ask for it."""
        try:
            payload = _json(raw)
            if isinstance(payload, dict) and isinstance(payload.get("order"), dict):
                payload = payload["order"]
            return parse_order(payload)
        except Malformed:
            pass
        try:
            original = self.lookup(key)
        except AdapterError as error:
            return OrderResult.failure(
                UnknownOutcome(f"POST /orders: 409, and the original order is unknown ({error})")
            )
        if original is None:
            return OrderResult.failure(
                TerminalError("POST /orders: 409 for a key the supplier has no order for")
            )
        return original

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[int, bytes]:
        """The status and body of the answer. Raises ``_NotSent`` when the supplier could
        not be reached, ``_NoAnswer`` when the request went out but no answer came."""
        headers = {"Accept": "application/json", "User-Agent": "loyalty-backoffice"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        http_request = urllib.request.Request(  # noqa: S310 (base_url is checked to be http(s))
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            # urllib wraps errors up to and including sending the request in URLError;
            # errors while waiting for or reading the answer come through unwrapped.
            with self._opener.open(http_request, timeout=self.timeout_s) as response:
                status, raw = response.status, response.read(MAX_BODY_BYTES + 1)
        except urllib.error.HTTPError as answer:
            status = answer.code
            try:
                raw = answer.read(MAX_BODY_BYTES + 1)
            except (OSError, http.client.HTTPException):
                raw = b""
            finally:
                answer.close()
        except urllib.error.URLError as error:
            logger.warning("%s %s: not sent: %s", method, path, error.reason)
            raise _NotSent(str(error.reason)) from None
        except (OSError, http.client.HTTPException) as error:
            logger.warning("%s %s: no answer: %s", method, path, type(error).__name__)
            raise _NoAnswer(str(error) or type(error).__name__) from None
        logger.info("%s %s -> %s", method, path, status)
        return status, raw


def _json(raw: bytes) -> Any:
    if len(raw) > MAX_BODY_BYTES:
        raise Malformed("the answer is too large")
    try:
        # Decimals, not floats, for any number (a cost sent as a JSON number).
        return json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise Malformed("the answer is not JSON") from None


def _status_error(what: str, status: int, raw: bytes) -> AdapterError:
    detail = _error_message(raw)
    message = f"{what}: HTTP {status}" + (f": {detail}" if detail else "")
    if status == 504:
        return UnknownOutcome(message)
    if status >= 500 or status in RETRYABLE_4XX:
        return RetryableError(message)
    return TerminalError(message)


def _error_message(raw: bytes) -> str:
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return ""
    error = payload.get("error") if isinstance(payload, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:MAX_MESSAGE_CHARS] if isinstance(message, str) else ""


def _text(value: Any, what: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise Malformed(f"{what}: a string")
    return value


def parse_order(payload: Any) -> OrderResult:
    """The ``OrderResult`` of an order in the protocol's JSON; raises ``Malformed``."""
    if not isinstance(payload, dict):
        raise Malformed("the answer is not an order")
    ref = _text(payload.get("id"), "id", required=True)
    status = payload.get("status")
    if status == "cancelled":
        return OrderResult.failure(TerminalError("the order was cancelled"), supplier_ref=ref)
    if status == OrderStatus.FAILED:
        error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
        message = _text(error.get("message"), "error.message")[:MAX_MESSAGE_CHARS]
        message = message or "the supplier failed the order"
        kind = RetryableError if error.get("retryable") is True else TerminalError
        return OrderResult.failure(kind(message), supplier_ref=ref)
    if status not in (OrderStatus.DELIVERED, OrderStatus.SUBMITTED):
        raise Malformed(f"status: {str(status)[:40]!r} is not an order status")
    return OrderResult(
        status=OrderStatus(status),
        supplier_ref=ref,
        codes=_codes(payload.get("codes")),
        tracking=_tracking(payload.get("tracking")),
        cost=_cost(payload.get("cost")),
    )


def _codes(value: Any) -> list[DeliveredCode]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise Malformed("codes: a list of objects")
    codes = []
    for item in value:
        expires = _text(item.get("expires_on"), "codes.expires_on")
        try:
            expires_on = datetime.date.fromisoformat(expires) if expires else None
        except ValueError:
            raise Malformed("codes.expires_on: a date (YYYY-MM-DD)") from None
        codes.append(
            DeliveredCode(
                code=_text(item.get("code"), "codes.code", required=True),
                pin=_text(item.get("pin"), "codes.pin"),
                claim_url=_text(item.get("claim_url"), "codes.claim_url"),
                expires_on=expires_on,
            )
        )
    return codes


def _tracking(value: Any) -> Tracking | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Malformed("tracking: an object")
    return Tracking(
        carrier=_text(value.get("carrier"), "tracking.carrier", required=True),
        number=_text(value.get("number"), "tracking.number", required=True),
    )


def _cost(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise Malformed("cost: a decimal string")
    try:
        cost = Decimal(value)
    except InvalidOperation:
        raise Malformed("cost: a decimal string") from None
    if not cost.is_finite() or cost < 0:
        raise Malformed("cost: a decimal string")
    return cost
