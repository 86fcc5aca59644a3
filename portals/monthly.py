"""The monthly report's PDF: the dashboard's sections for one calendar month, laid out for
A4 by WeasyPrint. ``merchants.monthly_reports`` calls it through the
``monthly_report_renderer`` hook (``PortalsConfig``), because the pages are the portal's.

The charts are the same server-drawn SVG as on the page; nothing is fetched while
rendering (only ``data:`` URLs, the logo's), so a report renders the same on any host."""

import calendar
import datetime

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from core.documents import image_data_uri
from merchants.models import Merchant
from merchants.monthly_reports import month_start
from merchants.selectors import merchant_brand
from portals.brand import brand_css
from portals.periods import Period
from portals.report_page import merchant_today, report_build

STYLESHEETS = ("core/design.css", "portals/report_pdf.css")


def _styles() -> str:
    texts = []
    for name in STYLESHEETS:
        path = finders.find(name)
        with open(path, encoding="utf-8") as handle:
            texts.append(handle.read())
    return "\n".join(texts)


def month_period(*, merchant: Merchant, month: datetime.date) -> Period:
    """The month's days, up to today's for the month still running."""
    last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    return Period(start=month, end=min(last, max(merchant_today(merchant), month)))


def monthly_report_pdf(
    *, merchant: Merchant, month: datetime.date, final: bool
) -> tuple[bytes, int]:
    period = month_period(merchant=merchant, month=month)
    brand = merchant_brand(merchant=merchant)
    # A month is compared with the month before it, whole (a draft too: the month so far
    # against all of last month would mislead, so against as many of its first days).
    before = month_start(month - datetime.timedelta(days=1))
    last_of_before = month - datetime.timedelta(days=1)
    whole = (
        period.end == month_period(merchant=merchant, month=month).end
        and period.end.month != (period.end + datetime.timedelta(days=1)).month
    )
    previous = Period(
        start=before,
        end=last_of_before if whole else min(last_of_before, before + (period.end - period.start)),
    )
    report = report_build(merchant=merchant, period=period, with_top=True, previous=previous)
    html = render_to_string(
        "portals/reports/pdf.html",
        {
            "report": report,
            "period": period,
            "month": month,
            "final": final,
            "styles": _styles(),
            "brand_css": brand_css(brand.colour),
            "logo": image_data_uri(brand.logo),
            "made_at": timezone.now(),
            "pdf": True,
        },
    )
    document = HTML(
        string=html, url_fetcher=URLFetcher(allowed_protocols=("data",), timeout=1)
    ).render()
    return document.write_pdf(), len(document.pages)
