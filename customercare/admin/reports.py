"""The care reports page (``customercare.view_care_reports``): a date range, the figures
overall, per merchant and per agent, goodwill by merchant and reason, the backlog by
age, and each table as a CSV download. The figures come from ``customercare.reports``."""

import csv
import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from core.site_time import site_today
from core.spreadsheet import spreadsheet_text
from customercare.admin.forms import ReportForm
from customercare.reports import (
    AGE_BANDS,
    CareReport,
    Durations,
    Figures,
    Period,
    care_operations_report,
)

REPORT_PERMISSION = "customercare.view_care_reports"
EXPORTS = ("summary", "goodwill", "backlog")


def duration_text(value: datetime.timedelta | None) -> str:
    if value is None:
        return "-"
    minutes = int(value.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def _minutes(value: datetime.timedelta | None) -> str:
    if value is None:
        return ""
    return str((Decimal(int(value.total_seconds())) / 60).quantize(Decimal("0.1")))


def _optional(value: Any) -> str:
    return "" if value is None else str(value)


def _cell(value: Any) -> Any:
    return spreadsheet_text(value) if isinstance(value, str) else value


def _times(durations: Durations) -> dict[str, str]:
    return {
        "count": str(durations.count),
        "median": duration_text(durations.median),
        "p90": duration_text(durations.p90),
    }


def figures_display(row: Figures) -> dict[str, Any]:
    """One report row as the page shows it."""
    return {
        "label": row.label,
        "opened": row.opened,
        "first_response": _times(row.first_response),
        "resolution": _times(row.resolution),
        "first_response_sla": _percent(row.first_response_sla.percent),
        "first_response_sla_of": row.first_response_sla.counted,
        "resolution_sla": _percent(row.resolution_sla.percent),
        "resolution_sla_of": row.resolution_sla.counted,
        "csat": _optional(row.csat.average) or "-",
        "csat_count": row.csat.count,
        "goodwill_points": row.goodwill_points,
        "backlog": row.backlog,
    }


def _percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{value} %"


SUMMARY_COLUMNS = [
    "breakdown",
    "name",
    "tickets_opened",
    "first_responses",
    "first_response_median_minutes",
    "first_response_p90_minutes",
    "resolutions",
    "resolution_median_minutes",
    "resolution_p90_minutes",
    "first_response_sla_met",
    "first_response_sla_counted",
    "first_response_sla_percent",
    "resolution_sla_met",
    "resolution_sla_counted",
    "resolution_sla_percent",
    "csat_ratings",
    "csat_average",
    "goodwill_points",
    "backlog_now",
]


def _summary_row(breakdown: str, row: Figures) -> list[Any]:
    return [
        breakdown,
        row.label,
        row.opened,
        row.first_response.count,
        _minutes(row.first_response.median),
        _minutes(row.first_response.p90),
        row.resolution.count,
        _minutes(row.resolution.median),
        _minutes(row.resolution.p90),
        row.first_response_sla.met,
        row.first_response_sla.counted,
        _optional(row.first_response_sla.percent),
        row.resolution_sla.met,
        row.resolution_sla.counted,
        _optional(row.resolution_sla.percent),
        row.csat.count,
        _optional(row.csat.average),
        row.goodwill_points,
        row.backlog,
    ]


def report_table(report: CareReport, table: str) -> list[list[Any]]:
    """A table of the report as CSV rows, its header first."""
    if table == "summary":
        return [
            SUMMARY_COLUMNS,
            _summary_row("all", report.overall),
            *(_summary_row("merchant", row) for row in report.by_merchant),
            *(_summary_row("agent", row) for row in report.by_agent),
        ]
    if table == "goodwill":
        return [
            ["merchant", "reason", "adjustments", "points"],
            *([row.merchant, row.reason, row.adjustments, row.points] for row in report.goodwill),
        ]
    bands = [key for key, *_ in AGE_BANDS]
    rows = [["breakdown", "name", *bands, "total"]]
    for breakdown, backlog in (
        ("all", [report.backlog_overall]),
        ("merchant", report.backlog_by_merchant),
        ("agent", report.backlog_by_agent),
    ):
        for row in backlog:
            rows.append([breakdown, row.label, *(row.bands.get(b, 0) for b in bands), row.total])
    return rows


class ReportsMixin:
    """Mixed into the ticket admin: the reports page lives under the ticket list."""

    def report_urls(self) -> list:
        return [
            path(
                "reports/",
                self.admin_site.admin_view(self.reports_view),
                name="customercare_ticket_reports",
            )
        ]

    def reports_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(REPORT_PERMISSION):
            raise PermissionDenied
        today = site_today()
        if "start" in request.GET or "end" in request.GET:
            form = ReportForm(request.GET)
        else:
            form = ReportForm(
                {key: value.isoformat() for key, value in ReportForm.default_range(today).items()}
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Customer care reports",
            "form": form,
            "bands": [(key, label) for key, label, *_ in AGE_BANDS],
        }
        if not form.is_valid():
            return TemplateResponse(request, "admin/customercare/reports.html", context, status=400)
        data = form.cleaned_data
        period = Period.from_dates(data["start"], data["end"])
        report = care_operations_report(
            period=period, now=timezone.now(), merchant=data["merchant"]
        )
        export = request.GET.get("export")
        if export is not None:
            if export not in EXPORTS:
                return HttpResponse("Unknown table.", status=400, content_type="text/plain")
            return self._csv(report, export, data)
        query = {
            "start": data["start"].isoformat(),
            "end": data["end"].isoformat(),
            "merchant": data["merchant"].pk if data["merchant"] else "",
        }
        context.update(
            report=report,
            overall=figures_display(report.overall),
            by_merchant=[figures_display(row) for row in report.by_merchant],
            by_agent=[figures_display(row) for row in report.by_agent],
            backlog=[
                (label, [row.bands.get(key, 0) for key, *_ in AGE_BANDS], row.total)
                for label, row in (
                    ("All", report.backlog_overall),
                    *((f"Merchant: {row.label}", row) for row in report.backlog_by_merchant),
                    *((f"Agent: {row.label}", row) for row in report.backlog_by_agent),
                )
            ],
            exports={table: "?" + urlencode({**query, "export": table}) for table in EXPORTS},
        )
        return TemplateResponse(request, "admin/customercare/reports.html", context)

    def _csv(self, report: CareReport, table: str, data: dict) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        name = f"care-{table}-{data['start']:%Y%m%d}-{data['end']:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        writer = csv.writer(response)
        for row in report_table(report, table):
            writer.writerow([_cell(value) for value in row])
        return response
