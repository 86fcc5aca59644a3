"""Currency conversion at the stored exchange rates (``ExchangeRate``)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from core.hooks import app_hooks
from core.money import quantize_money, quantize_places
from loyalty.exceptions import ExchangeRateMissing
from loyalty.models import ExchangeRate


@dataclass(frozen=True)
class Conversion:
    amount: Decimal
    rate: Decimal
    rate_row: ExchangeRate | None


def convert(
    *, amount: Decimal, from_currency: str, to_currency: str, at: datetime.datetime
) -> Conversion:
    """``amount`` in ``to_currency`` at the latest rate known at ``at``, quantized to the
    target currency. Uses the inverse of the opposite rate when only that one is stored."""
    if from_currency == to_currency:
        return Conversion(amount=amount, rate=Decimal(1), rate_row=None)
    row = (
        ExchangeRate.objects.filter(
            Q(base=from_currency, quote=to_currency) | Q(base=to_currency, quote=from_currency),
            as_of__lte=at,
        )
        .order_by("-as_of", "-id")
        .first()
    )
    if row is None:
        raise ExchangeRateMissing(
            f"No {from_currency}→{to_currency} exchange rate is known at {at:%Y-%m-%d %H:%M}.",
            field="currency",
        )
    rate = row.rate if row.base == from_currency else Decimal(1) / row.rate
    return Conversion(
        amount=quantize_money(amount * rate, to_currency),
        rate=quantize_places(rate, 10),
        rate_row=row,
    )


def rate_between(from_currency: str, to_currency: str, at: datetime.datetime) -> Decimal:
    """How many ``to_currency`` one ``from_currency`` is worth at ``at`` (1 for the same
    currency); raises ``ExchangeRateMissing`` like ``convert``."""
    return convert(
        amount=Decimal(1), from_currency=from_currency, to_currency=to_currency, at=at
    ).rate


def rates_changed(*, currencies: set[str]) -> None:
    """Tell the apps that derive prices from rates (the catalog) that rates of these
    currencies were added or changed (by staff in the admin or an import)."""
    if currencies:
        for hook in app_hooks("on_rates_changed"):
            hook(currencies=sorted(currencies))
