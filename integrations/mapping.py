"""What a platform's payload says, in our terms: pure, no ORM.

Each platform module (``shopify``, ``woocommerce``) reads its payloads into these types;
``integrations.services`` turns them into members, orders and refunds through the loyalty
services. Money is read as ``Decimal`` (payloads are parsed with ``parse_float=Decimal``,
so a JSON number such as Shopify's refund ``subtotal`` keeps its digits), in the order's
currency, quantized to the currency's own places (JPY 0, KWD 3).

The earnable amount of an order is what the store's settings say earns: the total the
shopper paid, less the tax unless tax earns, less the shipping unless shipping earns.
Refunds are taken back in the same terms, so that refunding everything takes back exactly
what the order earned.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.currency import is_currency_code
from core.money import quantize_money
from loyalty.external_ids import is_external_id


class PayloadError(ValueError):
    """The payload lacks what its topic needs, or holds it in a shape we cannot read."""


@dataclass(frozen=True)
class StoreTerms:
    """A store's settings that decide what earns."""

    earn_on: str  # "paid" or "fulfilled"
    tax_earns: bool
    shipping_earns: bool


@dataclass(frozen=True)
class Customer:
    external_id: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class PlatformRefund:
    external_id: str
    # In the order's earnable terms, quantized; None when only the platform's gross amount
    # is known and must be scaled by the order's earnable share (``gross_amount``).
    amount: Decimal | None
    gross_amount: Decimal = Decimal(0)


@dataclass(frozen=True)
class PlatformOrder:
    external_id: str
    customer: Customer | None
    placed_at: datetime.datetime
    currency: str
    gross: Decimal
    earnable: Decimal
    lines: tuple[Line, ...]
    status: str  # the platform's words, for the outcome text
    earns: bool  # whether its status earns under the store's terms
    cancelled: bool  # everything it earned is to be taken back
    refunds: tuple[PlatformRefund, ...] = ()


MAX_LINES = 500


def obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{what} is not an object.")
    return value


def items(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{what} is not a list.")
    return value


def platform_id(value: Any, what: str) -> str:
    """A platform's numeric or string id as an external id."""
    if isinstance(value, bool) or value is None:
        raise PayloadError(f"{what} is missing.")
    text = str(value).strip()
    if not is_external_id(text):
        raise PayloadError(f"{what} is not an id we can keep: {text[:40]!r}.")
    return text


def money(value: Any, what: str) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise PayloadError(f"{what} is not an amount.")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadError(f"{what} is not an amount: {str(value)[:40]!r}.") from None
    if not amount.is_finite() or abs(amount) >= Decimal("1e10"):
        raise PayloadError(f"{what} is out of range.")
    return amount


def currency(value: Any) -> str:
    if not is_currency_code(value):
        raise PayloadError(f"The currency {str(value)[:10]!r} is not an ISO 4217 code.")
    return value


def quantity(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PayloadError(f"{what} is not a whole number.")
    try:
        number = int(value)
    except ValueError:
        raise PayloadError(f"{what} is not a whole number.") from None
    if number < 0 or number > 1_000_000:
        raise PayloadError(f"{what} is out of range.")
    return number


def when(value: Any, what: str, *, naive_is_utc: bool = False) -> datetime.datetime:
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{what} is missing.")
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{what} is not a date and time: {value[:40]!r}.") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise PayloadError(f"{what} has no time zone.")
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment


def text(value: Any, limit: int) -> str:
    return value.replace("\x00", "").strip()[:limit] if isinstance(value, str) else ""


def country_code(value: Any) -> str:
    code = text(value, 2).upper()
    return code if len(code) == 2 and code.isalpha() else ""


def profile(*, email: Any, first_name: Any, last_name: Any, country: Any) -> dict[str, Any]:
    """The member fields a platform's customer gives: only those it holds, so that a
    payload without them (a customer with no email, data the platform withholds) never
    blanks what the member has."""
    fields: dict[str, Any] = {}
    address = text(email, 254)
    if address:
        try:
            validate_email(address)
            fields["email"] = address
        except ValidationError:
            pass
    for name, value in (("first_name", first_name), ("last_name", last_name)):
        if value := text(value, 120):
            fields[name] = value
    if code := country_code(country):
        fields["country"] = code
    return fields


def earnable(
    gross: Decimal, tax: Decimal, shipping: Decimal, terms: StoreTerms, code: str
) -> Decimal:
    """What of ``gross`` earns: ``tax`` is the order's whole tax (shipping's included) and
    ``shipping`` the shipping before tax."""
    amount = gross
    if not terms.tax_earns:
        amount -= tax
    if not terms.shipping_earns:
        amount -= shipping
    return max(quantize_money(amount, code), Decimal(0))


def scaled(amount: Decimal, order_earnable: Decimal, order_gross: Decimal, code: str) -> Decimal:
    """A refund of ``amount`` of the gross, as a share of what earned."""
    if order_gross <= 0:
        return Decimal(0)
    return quantize_money(amount * order_earnable / order_gross, code)


def limited_lines(lines: list[Line]) -> tuple[Line, ...]:
    if len(lines) > MAX_LINES:
        raise PayloadError(f"More than {MAX_LINES} lines.")
    return tuple(lines)
