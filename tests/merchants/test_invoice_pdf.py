"""The invoice PDF: one clean A4 page with both parties, the lines and the totals, and
nothing fetched from anywhere; and the CSV rows for the accounting system."""

import csv
import datetime
import io
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from core.actors import SYSTEM
from merchants import invoices
from merchants.invoice_documents import CSV_COLUMNS, invoice_csv, invoice_pdf, unit_price_text
from merchants.invoice_rules import REVERSE_CHARGE_NOTE
from merchants.models import UsageKind
from tests.merchants.factories import (
    MerchantFactory,
    billing_profile_make,
    fee_plan_make,
    usage_post,
)

pytestmark = pytest.mark.django_db

POPPLER = shutil.which("pdftoppm") and shutil.which("pdftotext")
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftoppm) not installed")


def issued_invoice(*, currency="EUR", country="FR", tax_id="FR12345678901", **plan):
    merchant = MerchantFactory(name="Maison Lumière", default_currency=currency, country=country)
    fee_plan_make(
        merchant,
        currency=currency,
        **{
            "monthly": "399.00",
            "per_member": "0.0120",
            "per_redemption": "0.20",
            "margin": "7.5",
            **plan,
        },
    )
    billing_profile_make(
        merchant,
        legal_name="Maison Lumière SAS",
        address="12 rue de la Paix\n75002 Paris",
        country=country,
        tax_id=tax_id,
        tax_rate_percent=Decimal("20"),
    )
    moment = datetime.datetime(2026, 3, 20, 12, tzinfo=datetime.UTC)
    usage_post(merchant, UsageKind.ACTIVE_MEMBERS, "2026-03", moment, quantity=1250)
    usage_post(merchant, UsageKind.REDEMPTION, "r1", moment, reward_value="25.00")
    draft = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)
    return invoices.invoice_issue(invoice=draft, actor=SYSTEM)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "invoice.pdf"
    source.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True, text=True
    ).stdout


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[Path]:
    source = tmp_path / "invoice.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", str(source), str(tmp_path / "page")], check=True
    )
    return sorted(tmp_path.glob("page*.png"))


@needs_poppler
def test_the_pdf_is_one_a4_page_with_the_number_parties_and_total(tmp_path):
    invoice = issued_invoice()

    pdf = invoice_pdf(invoice=invoice)

    assert pdf.startswith(b"%PDF")
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) == 1
    assert pages[0].stat().st_size > 5_000  # a drawn page, not a blank one
    text = pdf_text(pdf, tmp_path)
    assert invoice.number in text
    assert "€441.08" in text  # 399.00 + 15.00 + 0.20 + 25.00 + 1.88, reverse charge
    assert "Maison Lumière SAS" in text
    assert "75002 Paris" in text
    assert invoice.provider_legal_name in text
    assert "March 2026" in text
    assert REVERSE_CHARGE_NOTE in " ".join(text.split())
    assert "€0.012" in text  # a unit fee finer than the cent is shown as it is
    assert "399.0000" not in text
    assert "441.0800" not in text


@needs_poppler
def test_a_credit_note_pdf_names_the_invoice_it_credits(tmp_path):
    invoice = issued_invoice(country="NL", tax_id="", currency="JPY", monthly="60000")
    note = invoices.credit_note_issue(
        invoice=invoice, amount=Decimal("5000"), reason="Service outage", actor=SYSTEM
    )

    text = pdf_text(invoice_pdf(invoice=note), tmp_path)

    assert f"Credit note for {invoice.number}" in text
    assert note.number in text
    assert "¥6,000" in text  # 5,000 + 20 % tax, whole yen
    assert "Service outage" in text


def test_the_csv_export_has_the_accounting_columns():
    invoice = issued_invoice(country="NL", tax_id="NL123456789B01")
    note = invoices.credit_note_issue(
        invoice=invoice, amount=Decimal("10.00"), reason="r", actor=SYSTEM
    )
    invoices.invoice_payment_record(
        invoice=invoice, paid_on=timezone.localdate(), reference="SEPA-1", actor=SYSTEM
    )
    invoice.refresh_from_db()

    rows = list(csv.DictReader(io.StringIO(invoice_csv([invoice, note]))))

    assert list(rows[0]) == CSV_COLUMNS
    assert rows[0] == {
        "number": invoice.number,
        "kind": "invoice",
        "issued_on": timezone.localdate().isoformat(),
        "due_on": invoice.due_on.isoformat(),
        "paid_on": timezone.localdate().isoformat(),
        "period": "2026-03",
        "merchant": invoice.merchant.slug,
        "legal_name": "Maison Lumière SAS",
        "tax_id": "NL123456789B01",
        "currency": "EUR",
        "subtotal": "441.08",
        "tax_rate_percent": "20",
        "tax": "88.22",
        "total": "529.30",
        "status": "paid",
        "credits": "",
    }
    assert (rows[1]["kind"], rows[1]["credits"], rows[1]["total"]) == (
        "credit_note",
        invoice.number,
        "12.00",
    )


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [
        ("0.0120", "EUR", "€0.012"),
        ("399.0000", "EUR", "€399.00"),
        ("2.5000", "JPY", "¥2.5"),  # never rounded to a whole yen
        ("60000", "JPY", "¥60,000"),
        ("0.0125", "KWD", "KWD0.0125"),
        ("0.150", "KWD", "KWD0.150"),
    ],
)
def test_unit_prices_keep_their_fractions_of_the_minor_unit(value, currency, text):
    assert unit_price_text(Decimal(value), currency) == text


@needs_poppler
def test_a_draft_pdf_previews_the_current_billing_profile(tmp_path, settings):
    settings.PROVIDER_ADDRESS = "Kanaalweg 7|3526 KL Utrecht"
    merchant = MerchantFactory(default_currency="EUR")
    fee_plan_make(merchant, currency="EUR", monthly="150.00")
    billing_profile_make(merchant, legal_name="Preview GmbH", country="DE", tax_id="")
    draft = invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)

    text = pdf_text(invoice_pdf(invoice=draft), tmp_path)

    assert "Draft" in text
    assert "Preview GmbH" in text
    assert "3526 KL Utrecht" in text
    draft.refresh_from_db()
    assert draft.customer_legal_name == ""  # the preview saved nothing
