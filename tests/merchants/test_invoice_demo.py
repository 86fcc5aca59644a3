"""The demo data bills: each live demo merchant has a billing profile and last month's
invoice, issued, once however often the demo is loaded."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from merchants.invoices import previous_month
from merchants.models import BillingProfile, Invoice, InvoiceStatus, Merchant, MerchantStatus

pytestmark = [pytest.mark.django_db, pytest.mark.seeded_demo]


def test_seed_demo_issues_last_months_invoice_of_each_live_merchant_once(seeded_demo):
    again = StringIO()
    call_command("seed_demo", stdout=again)
    out = seeded_demo.output + again.getvalue()

    year, month = previous_month(timezone.localdate())
    live = Merchant.objects.filter(status=MerchantStatus.LIVE)
    assert live.count() >= 2
    for merchant in live:
        assert BillingProfile.objects.filter(merchant=merchant).exists()
        (invoice,) = Invoice.objects.filter(merchant=merchant)
        assert invoice.status == InvoiceStatus.ISSUED
        assert (invoice.period_start.year, invoice.period_start.month) == (year, month)
        assert invoice.customer_legal_name == merchant.legal_name
        assert f"Demo invoice {invoice.number} for {merchant.name}." in out
    assert not Invoice.objects.exclude(merchant__in=live).exists()
