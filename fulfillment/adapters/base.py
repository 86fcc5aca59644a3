"""The supplier adapter interface: how fulfillment places, looks up and cancels an order
with a supplier, whoever the supplier is.

Conventions every adapter keeps:

- ``place`` never raises for a supplier problem: a failure comes back as an
  ``OrderResult`` with status ``failed`` and an ``AdapterError`` whose ``kind`` says what
  the caller may do next. ``lookup`` and ``cancel`` raise ``AdapterError`` when they
  cannot get an answer (nothing changed on our side, ask again later).
- ``idempotency_key`` identifies one attempt. Placing again with the same key never
  buys twice: the adapter (or the supplier) returns the order of the first call.
- Error kinds: ``retryable`` (nothing was placed, trying again is safe), ``terminal``
  (it will not work, give up or fail over), ``unknown`` (the order was sent and may have
  been placed: reconcile with ``lookup`` before any new attempt).
"""

import datetime
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from catalog.exceptions import InvalidSupplierSettings
from catalog.supplier_settings import SettingsSchema

# Keys go into HTTP headers and URL paths and must fit ``VoucherCode.used_for``.
IDEMPOTENCY_KEY_RE = re.compile(r"[A-Za-z0-9._:-]{1,120}")


class OrderStatus(StrEnum):
    DELIVERED = "delivered"
    SUBMITTED = "submitted"  # accepted, delivered later: poll with ``lookup``
    FAILED = "failed"


class ErrorKind(StrEnum):
    RETRYABLE = "retryable"
    TERMINAL = "terminal"
    UNKNOWN = "unknown"


class AdapterError(Exception):
    """A supplier call that did not work; ``kind`` is an ``ErrorKind``."""

    def __init__(self, message: str, kind: ErrorKind | str = ErrorKind.TERMINAL) -> None:
        self.message = message
        self.kind = ErrorKind(kind)
        super().__init__(message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, kind={self.kind.value!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AdapterError):
            return NotImplemented
        return (self.message, self.kind) == (other.message, other.kind)

    def __hash__(self) -> int:
        return hash((self.message, self.kind))

    @property
    def retryable(self) -> bool:
        return self.kind == ErrorKind.RETRYABLE

    @property
    def terminal(self) -> bool:
        return self.kind == ErrorKind.TERMINAL

    @property
    def unknown(self) -> bool:
        return self.kind == ErrorKind.UNKNOWN


class RetryableError(AdapterError):
    """Nothing was placed; the same call may work later."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ErrorKind.RETRYABLE)


class TerminalError(AdapterError):
    """The supplier refused the order (or the setup is wrong); retrying will not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ErrorKind.TERMINAL)


class UnknownOutcome(AdapterError):
    """The order was sent and may have been placed: ``lookup`` before trying again."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ErrorKind.UNKNOWN)


class AdapterConfigError(ValueError):
    """A supplier's adapter name or settings are wrong."""


class UnknownAdapter(AdapterConfigError):
    """No adapter has that name."""


@dataclass(frozen=True, kw_only=True)
class OrderRequest:
    """One order to place: ``quantity`` units of ``face_value`` each."""

    idempotency_key: str
    supplier_sku: str
    country: str
    face_value: Decimal
    currency: str
    quantity: int
    recipient: dict[str, Any]  # email, phone and/or postal_address
    offer_id: int
    reference: str  # ours, shown to the supplier (e.g. the redemption's number)

    def __post_init__(self) -> None:
        # A django-countries Country renders as its code.
        object.__setattr__(self, "country", str(self.country))
        if not isinstance(self.idempotency_key, str) or not IDEMPOTENCY_KEY_RE.fullmatch(
            self.idempotency_key
        ):
            raise ValueError(
                "idempotency_key: 1 to 120 characters among letters, digits and . _ : -"
            )
        if not isinstance(self.face_value, Decimal) or not self.face_value > 0:
            raise ValueError("face_value: a positive Decimal")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise ValueError("quantity: an integer")
        if self.quantity < 1:
            raise ValueError("quantity: at least 1")
        if not re.fullmatch(r"[A-Z]{3}", self.currency or ""):
            raise ValueError("currency: an ISO 4217 code such as USD")
        if not self.supplier_sku:
            raise ValueError("supplier_sku: required")


@dataclass(frozen=True, kw_only=True)
class DeliveredCode:
    """A gift-card or voucher code. Code and PIN stay out of ``repr`` so that logging a
    result never writes them out."""

    code: str = field(repr=False)
    pin: str = field(default="", repr=False)
    claim_url: str = field(default="", repr=False)
    expires_on: datetime.date | None = None


@dataclass(frozen=True, kw_only=True)
class Tracking:
    carrier: str
    number: str


@dataclass(frozen=True, kw_only=True)
class OrderResult:
    """What a supplier says about an order. ``error`` is set exactly when status is
    ``failed``; ``cost`` is what the supplier charges for the whole order, in the offer's
    cost currency, when it says."""

    status: OrderStatus
    supplier_ref: str = ""
    codes: list[DeliveredCode] = field(default_factory=list)
    tracking: Tracking | None = None
    cost: Decimal | None = None
    error: AdapterError | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", OrderStatus(self.status))
        if (self.status == OrderStatus.FAILED) != (self.error is not None):
            raise ValueError("error: set when, and only when, the status is failed")
        if self.cost is not None and not isinstance(self.cost, Decimal):
            raise ValueError("cost: a Decimal or None")

    @classmethod
    def failure(cls, error: AdapterError, *, supplier_ref: str = "") -> "OrderResult":
        return cls(status=OrderStatus.FAILED, supplier_ref=supplier_ref, error=error)

    @property
    def delivered(self) -> bool:
        return self.status == OrderStatus.DELIVERED

    @property
    def submitted(self) -> bool:
        return self.status == OrderStatus.SUBMITTED

    @property
    def failed(self) -> bool:
        return self.status == OrderStatus.FAILED


class SupplierAdapter(ABC):
    """Places orders with one supplier. Built once per supplier with its settings, which
    ``settings_schema`` describes (each setting's kind, bounds, whether it is a secret or
    decides where secrets are sent) and checks: the staff's form is built from it and
    saving checks against it, so a supplier holds only settings its adapter runs with."""

    name: ClassVar[str]
    settings_schema: ClassVar[SettingsSchema] = SettingsSchema()

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        try:
            self.config = self.settings_schema.clean(dict(config or {}))
        except InvalidSupplierSettings as error:
            raise AdapterConfigError(f"{self.name} adapter: {error.detail}") from None

    def __repr__(self) -> str:
        # Never the settings: they may hold credentials.
        return f"<{type(self).__name__} {self.name}>"

    @abstractmethod
    def place(self, request: OrderRequest) -> OrderResult:
        """Place the order, or return the one already placed under its idempotency key."""

    @abstractmethod
    def lookup(self, idempotency_key: str, supplier_ref: str | None = None) -> OrderResult | None:
        """The order's current state; None when the supplier never saw it."""

    @abstractmethod
    def cancel(self, supplier_ref: str) -> bool:
        """Cancel a placed order; False when the supplier cannot (any more)."""
