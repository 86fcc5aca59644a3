"""Exchange rates staff enter or correct; the apps that price from rates hear of them."""

from django.db import transaction

from loyalty.models import ExchangeRate
from loyalty.rates import rates_changed


def exchange_rate_save(*, rate: ExchangeRate) -> ExchangeRate:
    """Store a rate staff entered or corrected; the apps that price from rates (the
    catalog) hear of its currencies and reprice once the change commits."""
    with transaction.atomic():
        rate.save()
        rates_changed(currencies={rate.base, rate.quote})
    return rate


def exchange_rate_delete(*, rate: ExchangeRate) -> None:
    """Delete a rate staff entered by mistake; the apps that price from rates hear of
    its currencies as for a change."""
    with transaction.atomic():
        rate.delete()
        rates_changed(currencies={rate.base, rate.quote})
