"""An invoice as people and other systems read it: the PDF (WeasyPrint, A4, no network:
the fetcher refuses every URL, and the template needs none) and the CSV rows the
accounting system imports. Money is written with Babel, in English, with the currency's
own decimals."""

import copy
import csv
import io
from collections.abc import Iterable
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from django.template.loader import render_to_string
from django_countries import countries
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from core.currency import currency_exponent
from core.money import money_text, quantize_money
from merchants.invoices import customer_details, provider_details
from merchants.models import BillingProfile, Invoice, InvoiceKind, InvoiceStatus

LOCALE = "en"
CSV_COLUMNS = [
    "number",
    "kind",
    "issued_on",
    "due_on",
    "paid_on",
    "period",
    "merchant",
    "legal_name",
    "tax_id",
    "currency",
    "subtotal",
    "tax_rate_percent",
    "tax",
    "total",
    "status",
    "credits",
]


def money_display(amount: Decimal, currency: str) -> str:
    """``€1,234.50``, ``¥60,000``, ``KWD 12.345``."""
    return format_currency(quantize_money(amount, currency), currency, locale=LOCALE)


def date_display(day) -> str:
    return format_date(day, format="long", locale=LOCALE) if day else ""


def quantity_text(value: Decimal) -> str:
    return format_decimal(value.normalize(), locale=LOCALE)


def unit_price_text(value: Decimal, currency: str) -> str:
    """A unit fee may be a fraction of the minor unit (0.0150 per member): shown to its
    last significant digit, never with fewer decimals than the currency has."""
    if value == quantize_money(value, currency):
        return money_display(value, currency)
    exponent = currency_exponent(currency)
    pattern = "¤#,##0." + "0" * exponent + "#" * (6 - exponent)
    return format_currency(value, currency, format=pattern, locale=LOCALE, currency_digits=False)


def _lines(address: str) -> list[str]:
    return [line for line in address.splitlines() if line.strip()]


def as_printed(invoice: Invoice) -> Invoice:
    """The invoice as its document shows it: a draft, which gets the parties' details only
    when issued, is previewed with the provider's and the billing profile's current ones
    (on an unsaved copy)."""
    if invoice.status != InvoiceStatus.DRAFT or invoice.kind != InvoiceKind.INVOICE:
        return invoice
    preview = copy.copy(invoice)
    details = provider_details()
    profile = BillingProfile.objects.filter(merchant_id=invoice.merchant_id).first()
    if profile is not None:
        details.update(customer_details(profile=profile))
    for name, value in details.items():
        setattr(preview, name, value)
    return preview


def invoice_context(invoice: Invoice) -> dict:
    invoice = as_printed(invoice)
    currency = invoice.currency
    return {
        "invoice": invoice,
        "title": f"{invoice.get_kind_display()} {invoice.number}".strip(),
        "is_credit_note": invoice.kind == InvoiceKind.CREDIT_NOTE,
        "credited_number": invoice.credited_invoice.number if invoice.credited_invoice_id else "",
        "provider_lines": _lines(invoice.provider_address),
        "provider_country": countries.name(invoice.provider_country) or invoice.provider_country,
        "customer_lines": _lines(invoice.customer_address),
        "customer_country": countries.name(invoice.customer_country) or invoice.customer_country,
        "issued_on": date_display(invoice.issued_on),
        "due_on": date_display(invoice.due_on),
        "paid_on": date_display(invoice.paid_on),
        "period": format_date(invoice.period_start, format="LLLL y", locale=LOCALE),
        "lines": [
            {
                "description": line.description,
                "quantity": quantity_text(line.quantity),
                "unit_price": unit_price_text(line.unit_price, currency),
                "amount": money_display(line.amount, currency),
            }
            for line in invoice.lines.all()
        ],
        "subtotal": money_display(invoice.subtotal, currency),
        "tax_rate": format_decimal(invoice.tax_rate_percent.normalize(), locale=LOCALE),
        "tax": money_display(invoice.tax, currency),
        "total": money_display(invoice.total, currency),
    }


def invoice_pdf(*, invoice: Invoice) -> bytes:
    html = render_to_string("merchants/invoice_pdf.html", invoice_context(invoice))
    document = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=(), timeout=1))
    return document.write_pdf()


def invoice_pdf_filename(invoice: Invoice) -> str:
    return f"{invoice.number or f'draft-{invoice.pk}'}.pdf"


def invoice_csv(invoices: Iterable[Invoice]) -> str:
    """One row per invoice or credit note for the accounting system: amounts with the
    currency's decimals and a dot, dates in ISO 8601, credit notes naming what they credit."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for invoice in invoices:
        currency = invoice.currency
        writer.writerow(
            [
                invoice.number,
                invoice.kind,
                invoice.issued_on.isoformat() if invoice.issued_on else "",
                invoice.due_on.isoformat() if invoice.due_on else "",
                invoice.paid_on.isoformat() if invoice.paid_on else "",
                f"{invoice.period_start:%Y-%m}",
                invoice.merchant.slug,
                invoice.customer_legal_name or invoice.merchant.legal_name,
                invoice.customer_tax_id,
                currency,
                money_text(invoice.subtotal, currency),
                f"{invoice.tax_rate_percent.normalize():f}",
                money_text(invoice.tax, currency),
                money_text(invoice.total, currency),
                invoice.status,
                invoice.credited_invoice.number if invoice.credited_invoice_id else "",
            ]
        )
    return out.getvalue()
