"""The monthly PDF report: made once per merchant and month by the first-of-month job,
announced once to the owners, drafted on request for the month still running, and a
real PDF whose pages carry the figures."""

import datetime
import shutil
import subprocess

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from core.actors import Actor
from loyalty.reports import aggregates
from merchants.models import MerchantStatus, MonthlyReport
from merchants.monthly_reports import MonthNotReportable, monthly_report_make, monthly_reports_due
from tests.loyalty.factories import member_make, order_post
from tests.portals.factories import signed_in

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2026, 12, 1, 6, 0, tzinfo=datetime.UTC)
NOVEMBER = datetime.date(2026, 11, 1)


@pytest.fixture(autouse=True)
def no_settle_delay(settings):
    settings.REPORT_AGGREGATES_SETTLE_SECONDS = 0


@pytest.fixture
def november(pair):
    """Merchant A's November: one order of 250.00 USD."""
    a, b = pair
    buyer = member_make(a.merchant, "alpha-buyer")
    order_post(
        a.merchant,
        buyer,
        "250.00",
        external_id="A-NOV",
        placed_at=datetime.datetime(2026, 11, 20, 12, tzinfo=datetime.UTC),
    )
    aggregates.aggregates_update(now=timezone.now())
    return a, b


def test_the_job_makes_last_months_report_once_and_emails_the_owners_once(november):
    a, _b = november
    first = monthly_reports_due(now=NOW)
    again = monthly_reports_due(now=NOW)

    reports = MonthlyReport.objects.filter(month=NOVEMBER)
    assert first == "2 reports, 2 emails, 0 failed"
    assert again == "2 reports, 0 emails, 0 failed"
    assert sorted(reports.values_list("merchant__name", "is_final")) == [
        ("Alpha Apparel", True),
        ("Beta Books", True),
    ]
    assert len(mail.outbox) == 2
    to_a = next(message for message in mail.outbox if a.owner.email in message.to)
    report = reports.get(merchant=a.merchant)
    assert to_a.to == [a.owner.email]
    assert "November 2026" in to_a.subject
    assert f"/portal/reports/monthly/{report.public_id}.pdf" in to_a.body
    assert bytes(report.pdf).startswith(b"%PDF")


def test_the_job_skips_merchants_that_are_not_live(november):
    _a, b = november
    b.merchant.status = MerchantStatus.SUSPENDED
    b.merchant.save(update_fields=["status"])
    assert monthly_reports_due(now=NOW) == "1 reports, 1 emails, 0 failed"
    assert not MonthlyReport.objects.filter(merchant=b.merchant).exists()


def test_a_final_report_is_never_replaced(november):
    a, _ = november
    first = monthly_report_make(
        merchant=a.merchant, month=NOVEMBER, final=True, actor=Actor.system("t"), now=NOW
    )
    again = monthly_report_make(
        merchant=a.merchant, month=NOVEMBER, final=True, actor=Actor.system("t"), now=NOW
    )
    assert again.pk == first.pk
    assert again.generated_at == first.generated_at


@pytest.mark.parametrize(
    ("month", "final"),
    [
        (datetime.date(2026, 12, 1), True),  # still running
        (datetime.date(2026, 11, 1), False),  # over: no more drafts
        (datetime.date(2026, 11, 15), True),  # not the first of a month
    ],
)
def test_months_that_cannot_be_reported_are_refused(pair, month, final):
    a, _ = pair
    with pytest.raises(MonthNotReportable):
        monthly_report_make(
            merchant=a.merchant, month=month, final=final, actor=Actor.system("t"), now=NOW
        )
    assert not MonthlyReport.objects.exists()


def test_an_analyst_drafts_the_month_so_far_and_downloads_it(pair):
    a, _ = pair
    client = signed_in(a.analyst)
    response = client.post(reverse("portals:monthly_report_draft"), follow=True)
    draft = MonthlyReport.objects.get(merchant=a.merchant)

    assert response.status_code == 200
    assert not draft.is_final
    assert draft.generated_by == a.analyst.email
    pdf = client.get(reverse("portals:monthly_report_pdf", args=[draft.public_id]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert "-draft.pdf" in pdf["Content-Disposition"]
    listed = client.get(reverse("portals:monthly_reports")).content.decode()
    assert "Draft, month so far" in listed


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="needs poppler-utils (pdftoppm)")
def test_the_pdf_has_pages_with_the_figures_in_its_text(november, tmp_path):
    a, _ = november
    report = monthly_report_make(
        merchant=a.merchant, month=NOVEMBER, final=True, actor=Actor.system("t"), now=NOW
    )
    path = tmp_path / "report.pdf"
    path.write_bytes(bytes(report.pdf))
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout

    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == report.pages >= 3
    assert "Alpha Apparel" in text
    assert "November 2026" in text
    assert "Compared with Oct 1 \u2013 31, 2026" in text
    assert "$250.00" in text
    assert "Deferred revenue" in text


def test_a_failed_email_is_sent_again_by_the_next_run(november, settings):
    a, _ = november
    settings.EMAIL_BACKEND = "tests.portals.test_monthly_reports.RefusingBackend"
    first = monthly_reports_due(now=NOW, merchant_id=a.merchant.pk)
    assert first == "1 reports, 0 emails, 1 failed"
    report = MonthlyReport.objects.get(merchant=a.merchant, month=NOVEMBER)
    assert report.notified_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    again = monthly_reports_due(now=NOW, merchant_id=a.merchant.pk)
    assert again == "1 reports, 1 emails, 0 failed"
    assert len(mail.outbox) == 1
    report.refresh_from_db()
    assert report.notified_at is not None


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server down")
