"""The program report: the dashboard, its CSV and ZIP downloads, and the monthly PDF
reports. Owners and analysts; support staff see the overview instead."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from core.exceptions import DomainError
from loyalty.exceptions import NoActiveProgram
from merchants.monthly_reports import month_start, monthly_report_make
from merchants.selectors import monthly_report_get, monthly_report_list
from portals import roles
from portals.access import portal_view
from portals.exports import csv_response, zip_response
from portals.periods import PRESETS, Period, period_from_query
from portals.report_page import Report, merchant_today, report_build
from portals.views.frame import overview

README = (
    "The program report of {merchant} for {dates}, as of {as_of}.\n"
    "Each CSV opens with the definitions of its figures (lines starting with #), then a "
    "header row. Amounts are followed by their currency; percentages have one decimal."
)


def _period(request: HttpRequest) -> tuple[Period, list[str]]:
    return period_from_query(request.GET, today=merchant_today(request.portal.merchant))


def _report(request: HttpRequest, period: Period, *, with_charts: bool = True) -> Report:
    return report_build(
        merchant=request.portal.merchant,
        period=period,
        with_top=request.portal.may(roles.TOP),
        with_charts=with_charts,
    )


def _report_or_404(request: HttpRequest) -> Report:
    period, _errors = _period(request)
    try:
        return _report(request, period, with_charts=False)
    except NoActiveProgram:
        raise Http404("No program yet.") from None


@portal_view(roles=roles.EVERYONE)
def dashboard(request: HttpRequest) -> HttpResponse:
    if not request.portal.may(roles.REPORTS):
        return overview(request)
    period, errors = _period(request)
    try:
        report = _report(request, period)
    except NoActiveProgram:
        return overview(request)  # nothing to report before the program is set up
    for error in errors:
        messages.warning(request, error)
    return TemplateResponse(
        request,
        "portals/reports/dashboard.html",
        {
            "report": report,
            "period": period,
            "presets": [(key, label) for key, label in PRESETS.items()],
            "query": urlencode(period.query()),
        },
    )


@portal_view(roles=roles.REPORTS)
def report_csv(request: HttpRequest, table: str) -> HttpResponse:
    report = _report_or_404(request)
    found = report.table_by_slug(table)
    if found is None:
        raise Http404("No such table.")
    export = found.as_export(prefix=report.export_prefix)
    return csv_response(
        filename=export.filename,
        definitions=export.definitions,
        header=export.header,
        rows=export.rows,
    )


@portal_view(roles=roles.REPORTS)
def report_zip(request: HttpRequest) -> HttpResponse:
    merchant = request.portal.merchant
    report = _report_or_404(request)
    period = report.period
    as_of = report.program.as_of
    return zip_response(
        filename=f"{report.export_prefix}.zip",
        tables=report.exports(),
        readme=README.format(
            merchant=merchant.name,
            dates=period.range_label,
            as_of=as_of.isoformat(timespec="minutes") if as_of else "not yet computed",
        ),
    )


@portal_view(roles=roles.REPORTS)
def monthly_reports(request: HttpRequest) -> HttpResponse:
    merchant = request.portal.merchant
    return TemplateResponse(
        request,
        "portals/reports/monthly.html",
        {
            "reports": monthly_report_list(merchant=merchant),
            "this_month": month_start(merchant_today(merchant)),
        },
    )


@require_POST
@portal_view(roles=roles.REPORTS)
def monthly_report_draft(request: HttpRequest) -> HttpResponse:
    merchant = request.portal.merchant
    try:
        report = monthly_report_make(
            merchant=merchant,
            month=month_start(merchant_today(merchant)),
            final=False,
            actor=request.portal.actor(),
        )
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(
            request, f"The draft of {report.month:%B %Y} so far is ready ({report.pages} pages)."
        )
    return redirect("portals:monthly_reports")


@portal_view(roles=roles.REPORTS)
def monthly_report_pdf(request: HttpRequest, public_id) -> HttpResponse:
    report = monthly_report_get(merchant=request.portal.merchant, public_id=public_id)
    response = HttpResponse(bytes(report.pdf), content_type="application/pdf")
    kind = "" if report.is_final else "-draft"
    filename = f"{request.portal.merchant.slug}-report-{report.month:%Y-%m}{kind}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
