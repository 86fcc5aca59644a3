"""Finance works invoices in the admin: the list, the page, the actions, the PDF and the
CSV export; Customer care may do none of it."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from core.actors import SYSTEM
from merchants import invoices
from merchants.invoice_documents import CSV_COLUMNS
from merchants.models import (
    BillingProfile,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    MerchantEvent,
    UsageKind,
)
from tests.merchants.factories import (
    MerchantFactory,
    billing_profile_make,
    fee_plan_make,
    staff_in,
    usage_post,
)
from tests.merchants.test_admin import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft():
    merchant = MerchantFactory(name="Acme", default_currency="EUR")
    fee_plan_make(merchant, currency="EUR", monthly="1234.50")
    billing_profile_make(merchant, tax_rate_percent=Decimal("21"))
    return invoices.invoice_draft(merchant=merchant, year=2026, month=3, actor=SYSTEM)


@pytest.fixture
def finance(client):
    client.force_login(staff_in("Finance"))
    return client


def act(client, name: str, invoice: Invoice, **data):
    return client.post(
        reverse("admin:merchants_invoice_changelist"),
        {"action": name, "index": "0", ACTION_CHECKBOX_NAME: [invoice.pk], "apply": "1", **data},
    )


def test_the_list_shows_numbers_totals_and_states_in_words(
    finance, draft, django_assert_max_num_queries
):
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)
    invoices.credit_note_issue(invoice=issued, amount=Decimal("100"), reason="r", actor=SYSTEM)

    with django_assert_max_num_queries(12):
        page = finance.get(reverse("admin:merchants_invoice_changelist")).content.decode()

    assert issued.number in page
    assert "€1,493.75" in page  # 1,234.50 + 21 % tax
    assert "€121.00" in page
    assert "March 2026" in page
    assert ">Issued<" in page
    assert "1493.7500" not in page


def test_finance_issues_a_draft_from_the_list(finance, draft):
    response = act(finance, "issue", draft)

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.ISSUED
    assert draft.number.startswith("INV-")
    assert draft.events.last().actor_label.startswith("user")


def test_the_page_offers_the_moves_of_its_status_and_shows_lines_and_history(finance, draft):
    page_url = reverse("admin:merchants_invoice_change", args=[draft.pk])
    issue_url = reverse("admin:merchants_invoice_act", args=[draft.pk, "issue"])
    pay_url = reverse("admin:merchants_invoice_act", args=[draft.pk, "record_payment"])

    page = finance.get(page_url).content.decode()

    assert issue_url in page
    assert pay_url not in page
    assert reverse("admin:merchants_invoice_pdf", args=[draft.pk]) in page
    assert "Platform fee" in page
    assert "€1,234.50" in page
    assert "1234.5000" not in page
    assert "Drafted from the fee plan" in page
    assert 'name="_save"' not in page
    assert "deletelink" not in page

    assert finance.post(issue_url, {"apply": "1"}).status_code == 302
    page = finance.get(page_url).content.decode()
    assert pay_url in page
    assert issue_url not in page


def test_finance_records_a_payment_voids_and_credits_from_the_page(finance, draft):
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)
    today = timezone.localdate().isoformat()

    credit_url = reverse("admin:merchants_invoice_act", args=[issued.pk, "credit"])
    finance.post(credit_url, {"apply": "1", "amount": "34.50", "reason": "outage"})
    pay_url = reverse("admin:merchants_invoice_act", args=[issued.pk, "record_payment"])
    finance.post(pay_url, {"apply": "1", "paid_on": today, "reference": "SEPA-9"})

    issued.refresh_from_db()
    assert (issued.status, issued.payment_reference) == (InvoiceStatus.PAID, "SEPA-9")
    note = Invoice.objects.get(kind=InvoiceKind.CREDIT_NOTE)
    assert (note.subtotal, note.credited_invoice) == (Decimal("34.50"), issued)

    void_url = reverse("admin:merchants_invoice_act", args=[issued.pk, "void"])
    response = finance.post(void_url, {"apply": "1", "reason": "too late"}, follow=True)
    assert "cannot move from paid to void" in response.content.decode()
    assert Invoice.objects.get(pk=issued.pk).status == InvoiceStatus.PAID


def test_a_credit_above_what_is_left_is_a_message_and_changes_nothing(finance, draft):
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)

    response = act(finance, "credit", issued, amount="5000", reason="too much")
    page = finance.get(response.url).content.decode()

    assert "left to credit" in page
    assert not Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).exists()


def test_a_void_without_a_reason_asks_again(finance, draft):
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)

    response = act(finance, "void", issued, reason="")

    assert response.status_code == 200  # the confirm page, with the form's error
    assert Invoice.objects.get(pk=issued.pk).status == InvoiceStatus.ISSUED


def test_finance_downloads_the_pdf_and_the_csv_export(finance, draft):
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)

    pdf = finance.get(reverse("admin:merchants_invoice_pdf", args=[issued.pk]))
    export = finance.post(
        reverse("admin:merchants_invoice_changelist"),
        {"action": "export_csv", "index": "0", ACTION_CHECKBOX_NAME: [issued.pk]},
    )

    assert pdf["Content-Type"] == "application/pdf"
    assert f'filename="{issued.number}.pdf"' in pdf["Content-Disposition"]
    assert pdf.content.startswith(b"%PDF")
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0] == CSV_COLUMNS
    assert rows[1][0] == issued.number
    assert rows[1][CSV_COLUMNS.index("total")] == "1493.75"


def test_customer_care_may_not_issue_or_read_invoices(client, draft):
    client.force_login(staff_in("Customer care"))

    assert act(client, "issue", draft).status_code == 403
    page_action = reverse("admin:merchants_invoice_act", args=[draft.pk, "issue"])
    assert client.post(page_action, {"apply": "1"}).status_code == 403
    assert client.get(reverse("admin:merchants_invoice_pdf", args=[draft.pk])).status_code == 403
    assert client.get(reverse("admin:merchants_invoice_changelist")).status_code == 403
    draft.refresh_from_db()
    assert (draft.status, draft.number) == (InvoiceStatus.DRAFT, "")


def test_an_unknown_page_action_is_not_found(finance, draft):
    url = reverse("admin:merchants_invoice_act", args=[draft.pk, "delete"])
    assert finance.post(url, {"apply": "1"}).status_code == 404


def test_finance_keeps_a_billing_profile_and_the_merchant_history_says_so(finance):
    merchant = MerchantFactory()

    response = finance.post(
        reverse("admin:merchants_billingprofile_add"),
        {
            "merchant": merchant.pk,
            "legal_name": "Acme GmbH",
            "address": "Hauptstraße 1\n10115 Berlin",
            "country": "DE",
            "tax_id": "DE123456789",
            "is_business": "on",
            "tax_rate_percent": "19",
            "invoice_email": "ap@acme.example",
        },
    )

    assert response.status_code == 302
    profile = BillingProfile.objects.get(merchant=merchant)
    assert (profile.legal_name, profile.tax_rate_percent) == ("Acme GmbH", Decimal("19"))
    assert MerchantEvent.objects.filter(
        merchant=merchant, reason="Billing profile created"
    ).exists()
    bad = finance.post(
        reverse("admin:merchants_billingprofile_change", args=[profile.pk]),
        {
            "merchant": merchant.pk,
            "legal_name": "Acme GmbH",
            "address": "x",
            "country": "DE",
            "tax_rate_percent": "150",
            "invoice_email": "not-an-email",
        },
    )
    assert bad.status_code == 200
    profile.refresh_from_db()
    assert profile.tax_rate_percent == Decimal("19")


def test_the_merchant_page_shows_the_billing_profile(client, draft):
    client.force_login(staff_in("Operations"))
    page = client.get(
        reverse("admin:merchants_merchant_change", args=[draft.merchant.pk])
    ).content.decode()
    assert "Billing profile" in page
    assert draft.merchant.billing_profile.legal_name in page


def test_operations_fills_in_the_billing_profile_on_the_merchant_page(client):
    client.force_login(staff_in("Operations"))
    merchant = MerchantFactory()
    url = reverse("admin:merchants_merchant_change", args=[merchant.pk])
    data = form_data(client.get(url), "merchant_form")
    data["billing_profile-TOTAL_FORMS"] = ["1"]
    for name, value in {
        "legal_name": "Acme SARL",
        "address": "1 rue Haute\n69001 Lyon",
        "country": "FR",
        "tax_id": "FR40123456824",
        "is_business": "on",
        "tax_rate_percent": "20",
        "invoice_email": "compta@acme.example",
    }.items():
        data[f"billing_profile-0-{name}"] = [value]

    response = client.post(url, data)

    assert response.status_code == 302, response.content
    profile = BillingProfile.objects.get(merchant=merchant)
    assert (profile.legal_name, profile.country.code) == ("Acme SARL", "FR")
    event = MerchantEvent.objects.get(merchant=merchant, reason="Billing profile created")
    assert event.actor_label.startswith("user")

    data = form_data(client.get(url), "merchant_form")
    data["billing_profile-0-tax_rate_percent"] = ["10"]
    assert client.post(url, data).status_code == 302
    profile.refresh_from_db()
    assert profile.tax_rate_percent == Decimal("10")
    assert MerchantEvent.objects.filter(
        merchant=merchant, reason="Billing profile changed: tax_rate_percent"
    ).exists()


def test_the_credit_page_says_how_much_is_left_to_credit(finance, draft):
    issued = invoices.invoice_issue(invoice=draft, actor=SYSTEM)
    invoices.credit_note_issue(invoice=issued, amount=Decimal("234.50"), reason="r", actor=SYSTEM)

    page = finance.get(
        reverse("admin:merchants_invoice_act", args=[issued.pk, "credit"])
    ).content.decode()

    assert "at most €1,000.00 before tax is left to credit" in page


def test_finance_drafts_again_after_late_usage(finance, draft):
    usage_post(
        draft.merchant,
        UsageKind.REDEMPTION,
        "late",
        datetime.datetime(2026, 3, 31, 22, tzinfo=datetime.UTC),
        reward_value="40.00",
    )
    url = reverse("admin:merchants_invoice_act", args=[draft.pk, "redraft"])

    response = finance.post(url, {"apply": "1"}, follow=True)

    draft.refresh_from_db()
    assert draft.subtotal == Decimal("1274.50")
    assert "drafted again, €1,542.15." in response.content.decode()  # 1,274.50 + 21 %
    invoices.invoice_issue(invoice=draft, actor=SYSTEM)
    response = finance.post(url, {"apply": "1"}, follow=True)
    assert "already issued" in response.content.decode()
