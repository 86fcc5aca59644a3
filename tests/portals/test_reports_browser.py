"""The program report in a real browser (Debian's Chromium): an analyst changes the
period, downloads a table's CSV and the whole report, drafts and downloads the month's
PDF; an owner downloads an invoice. Every page passes axe-core (no serious or critical
violation) at 390 px and 1440 px, under the strict Content-Security-Policy, and its
screenshots go to ``var/screenshots/portal/`` for someone to look at."""

import datetime
from pathlib import Path

import pytest
from django.utils import timezone

from loyalty.reports import aggregates
from merchants.models import MonthlyReport
from tests.catalog.factories import merchant_with_program
from tests.config.test_csp_browser import Watch
from tests.loyalty.factories import member_make, order_post
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401
from tests.portals.conftest import Side
from tests.portals.factories import portal_user, totp_code
from tests.portals.test_portal_browser import shots, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def busy_shop(transactional_db, settings):
    settings.REPORT_AGGREGATES_SETTLE_SECONDS = 0
    merchant, program = merchant_with_program()
    merchant.name = "Northwind Coffee Roasters"
    merchant.save(update_fields=["name"])
    program.points_name = "Beans"
    program.save(update_fields=["points_name"])
    now = timezone.now()
    for n in range(1, 9):
        member = member_make(merchant, f"cust-{n:04d}", email=f"customer{n}@example.com")
        for o in range(n % 3 + 1):
            order_post(
                merchant,
                member,
                f"{20 + 7 * n + o}.50",
                external_id=f"NW-{n}-{o}",
                placed_at=now - datetime.timedelta(days=3 * n + o),
            )
    aggregates.aggregates_update(now=timezone.now())
    return merchant


def test_an_analyst_reads_changes_and_downloads_the_report(server_url, page, busy_shop):  # noqa: F811
    portal_user(busy_shop, "analyst", email="analyst@northwind.example")
    watch = Watch(page)
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, server_url, "analyst@northwind.example")
    page.wait_for_url(f"{server_url}/portal/")

    assert page.locator("h1").inner_text() == "Program report"
    assert page.locator("#orders-heading").is_visible()
    shots(page, watch, "report-last-30-days")

    page.select_option("#period", "last_90")
    page.click(".period-form button[type=submit]")
    page.wait_for_url("**/portal/?period=last_90**")
    assert "Last 90 days" in page.locator(".report-head").inner_text()
    page.locator("summary", has_text="How is this counted?").first.click()
    shots(page, watch, "report-last-90-days")

    with page.expect_download() as csv_download:
        page.locator("a.download[href*='/reports/orders.csv']").click()
    csv_text = Path(csv_download.value.path()).read_text(encoding="utf-8-sig")
    assert csv_text.startswith("# Orders:")
    assert "All members,8," in csv_text
    with page.expect_download() as zip_download:
        page.click("text=Download all (ZIP)")
    assert zip_download.value.suggested_filename.endswith(".zip")

    page.goto(f"{server_url}/portal/reports/monthly/")
    shots(page, watch, "monthly-reports-empty")
    page.click("form[action$='/monthly/draft/'] button[type=submit]")
    page.wait_for_url("**/portal/reports/monthly/")
    assert "Draft, month so far" in page.locator("table").inner_text()
    shots(page, watch, "monthly-reports")
    with page.expect_download() as pdf_download:
        page.locator("table a", has_text="PDF").first.click()
    pdf = Path(pdf_download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    assert MonthlyReport.objects.get(merchant=busy_shop).is_final is False


def test_an_owner_downloads_an_invoice(server_url, page, busy_shop):  # noqa: F811
    owner = portal_user(busy_shop, "owner", email="owner@northwind.example")
    side = Side(merchant=busy_shop, owner=owner, analyst=None, support=None, member=None)
    invoice = side.invoice()
    watch = Watch(page)
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, server_url, "owner@northwind.example")
    page.fill("#id_code", totp_code(owner.totp_secret))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server_url}/portal/")

    page.goto(f"{server_url}/portal/invoices/")
    assert invoice.number in page.locator("table").inner_text()
    shots(page, watch, "invoices")
    with page.expect_download() as download:
        page.locator("table a", has_text="PDF").first.click()
    assert download.value.suggested_filename == f"{invoice.number}.pdf"
