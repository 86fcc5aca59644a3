"""The program report in the portal: the dashboard reads the aggregates, every table
downloads as CSV with its definitions, the whole report as a ZIP, and a bad period falls
back to the default with a message."""

import datetime
import io
import zipfile
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from core.actors import SYSTEM
from loyalty.reports import aggregates
from loyalty.reports.definitions import definitions
from merchants import invoices
from tests.loyalty.factories import member_make, order_post
from tests.merchants.factories import fee_plan_make
from tests.portals.factories import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_settle_delay(settings):
    settings.REPORT_AGGREGATES_SETTLE_SECONDS = 0


@pytest.fixture
def busy(pair):
    """Merchant A with an order of 1,234.50 USD by a new member, in the aggregates."""
    a, b = pair
    buyer = member_make(a.merchant, "alpha-buyer", email="buyer@alpha.example")
    order_post(a.merchant, buyer, "1234.50", external_id="A-1001")
    aggregates.aggregates_update(now=timezone.now())
    return a, b


def test_the_dashboard_shows_the_aggregated_figures_with_their_definitions(busy):
    a, _ = busy
    response = signed_in(a.analyst).get(reverse("portals:dashboard"))
    page = response.content.decode()

    assert response.status_code == 200
    report = response.context["report"]
    assert report.program.orders.orders == 1
    assert report.program.orders.revenue == Decimal("1234.50")
    assert "$1,234.50" in page
    assert str(definitions["liability_money"].how)[:40] in page
    assert "Figures as of" in page
    assert "499.0000" not in page
    assert "1234.5000" not in page


def test_support_staff_see_the_overview_and_not_the_figures(busy):
    a, _ = busy
    response = signed_in(a.support).get(reverse("portals:dashboard"))
    assert response.status_code == 200
    assert "report" not in response.context
    assert "$1,234.50" not in response.content.decode()


def test_a_table_downloads_as_csv_with_definitions_header_and_currency(busy):
    a, _ = busy
    response = signed_in(a.analyst).get(
        reverse("portals:report_csv", args=["orders"]), {"period": "last_7"}
    )
    body = response.content.decode("utf-8")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment;" in response["Content-Disposition"]
    assert body.startswith("\ufeff# Orders:")
    lines = body.lstrip("\ufeff").splitlines()
    header_at = lines.index("") + 1
    assert lines[header_at].startswith("Members,With orders,Orders,Revenue,Currency,")
    assert lines[header_at + 1].startswith("All members,1,1,1234.50,USD,")


def test_the_whole_report_downloads_as_a_zip_with_a_readme(busy):
    a, _ = busy
    response = signed_in(a.owner).get(reverse("portals:report_zip"), {"period": "this_month"})
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    names = bundle.namelist()

    assert response.status_code == 200
    assert "README.txt" in names
    assert any(name.endswith("-points.csv") for name in names)
    assert any(name.endswith("-top-members-by-points.csv") for name in names)
    readme = bundle.read("README.txt").decode("utf-8")
    assert "Alpha Apparel" in readme
    assert str(definitions["points_issued"].label) in readme


@pytest.mark.parametrize(
    "query",
    [
        {"period": "forever"},
        {"period": "custom", "start": "2026-13-01", "end": "2026-01-01"},
        {"period": "custom", "start": "2026-03-01", "end": "2026-01-01"},
        {"start": "x" * 5000},
    ],
)
def test_a_bad_period_falls_back_to_the_last_30_days_with_a_message(busy, query):
    a, _ = busy
    response = signed_in(a.analyst).get(reverse("portals:dashboard"), query)
    assert response.status_code == 200
    assert response.context["period"].preset == "last_30"
    assert [str(m) for m in response.context["messages"]]


def test_a_custom_range_is_reported_against_the_days_just_before(busy):
    a, _ = busy
    response = signed_in(a.analyst).get(
        reverse("portals:dashboard"),
        {"period": "custom", "start": "2026-03-01", "end": "2026-03-10"},
    )
    report = response.context["report"]
    assert (report.period.start, report.period.end) == (
        datetime.date(2026, 3, 1),
        datetime.date(2026, 3, 10),
    )
    assert (report.previous_period.start, report.previous_period.end) == (
        datetime.date(2026, 2, 19),
        datetime.date(2026, 2, 28),
    )


def test_the_dashboards_queries_do_not_grow_with_the_data(busy, django_assert_max_num_queries):
    a, _ = busy
    client = signed_in(a.analyst)
    client.get(reverse("portals:dashboard"))
    for n in range(5):
        member = member_make(a.merchant, f"more-{n}")
        order_post(a.merchant, member, "10.00", external_id=f"A-2{n}")
    aggregates.aggregates_update(now=timezone.now())
    with django_assert_max_num_queries(60):
        assert client.get(reverse("portals:dashboard")).status_code == 200


def test_an_owner_lists_issued_invoices_and_downloads_one(pair):
    a, _ = pair
    invoice = a.invoice()
    client = signed_in(a.owner)

    page = client.get(reverse("portals:invoices")).content.decode()
    pdf = client.get(reverse("portals:invoice_pdf", args=[invoice.public_id]))

    assert invoice.number in page
    assert "Awaiting payment" in page
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert f'filename="{invoice.number}.pdf"' in pdf["Content-Disposition"]


def test_a_draft_invoice_is_not_shown_to_the_merchant(pair):
    a, _ = pair
    fee_plan_make(a.merchant)
    draft = invoices.invoice_draft(merchant=a.merchant, year=2026, month=4, actor=SYSTEM)
    client = signed_in(a.owner)
    assert client.get(reverse("portals:invoice_pdf", args=[draft.public_id])).status_code == 404
    assert str(draft.public_id) not in client.get(reverse("portals:invoices")).content.decode()
