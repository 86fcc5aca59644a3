"""The report's charts: server-drawn SVG (``portals.charts``) from the figures of a
``Report``, the same on the page and in the PDF."""

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from core import formatting
from portals import charts

if TYPE_CHECKING:  # report_page builds the report and calls this: no import at run time
    from portals.report_page import Report


def report_charts(report: "Report") -> None:
    now, before = report.program, report.previous
    days = [day.day for day in now.daily]
    previous_days = {day.day: day for day in before.daily}
    previous_in_order = [previous_days[day] for day in sorted(previous_days)]
    previous_label = str(_("Previous period"))
    report.charts["issued"] = charts.daily_chart(
        title=str(_("Points issued per day")),
        description=str(
            _("Points issued each day of the period, with the previous period for comparison.")
        ),
        days=days,
        values=[day.issued for day in now.daily],
        series_label=str(_("Issued")),
        previous=[day.issued for day in previous_in_order],
        previous_label=previous_label,
    )
    report.charts["redeemed"] = charts.daily_chart(
        title=str(_("Points redeemed per day")),
        description=str(_("Points spent on rewards each day, with the previous period.")),
        days=days,
        values=[day.redeemed for day in now.daily],
        series_label=str(_("Redeemed")),
        previous=[day.redeemed for day in previous_in_order],
        previous_label=previous_label,
    )
    report.charts["revenue"] = charts.daily_chart(
        title=str(_("Members' revenue per day")),
        description=str(_("Revenue of members' orders each day, with the previous period.")),
        days=days,
        values=[day.revenue for day in now.daily],
        series_label=str(_("Revenue")),
        previous=[day.revenue for day in previous_in_order],
        previous_label=previous_label,
        unit="money",
        currency=report.currency,
    )
    report.charts["tiers"] = charts.bar_chart(
        title=str(_("Members by tier")),
        description=str(_("How many members were in each tier at the end of the period.")),
        rows=[(str(tier.name or _("No tier")), tier.members) for tier in now.members_by_tier],
        series_label=str(_("Members")),
        compact=True,
    )
    report.charts["cohorts"] = charts.cohort_chart(
        title=str(_("Breakage by issue month")),
        description=str(
            _(
                "The share of each month's issued points that expired unused. Young months "
                "can still change: their points may yet be spent or expire."
            )
        ),
        cohorts=[
            charts.Cohort(
                month=cohort.month,
                value=formatting.ratio_of(cohort.expired, cohort.issued),
                young=cohort.young,
            )
            for cohort in now.cohorts
        ],
        settled_label=str(_("Settled")),
        young_label=str(_("Still young")),
    )
    report.charts["rewards"] = charts.bar_chart(
        title=str(_("Redemptions by reward")),
        description=str(_("The rewards members asked for most in the period.")),
        rows=[(row.label, row.redemptions) for row in report.rewards.by_reward],
        series_label=str(_("Redemptions")),
        compact=True,
    )
    report.charts["countries"] = charts.bar_chart(
        title=str(_("Redemptions by country")),
        description=str(_("Where the rewards of the period were delivered.")),
        rows=[(row.label, row.redemptions) for row in report.rewards.by_country],
        series_label=str(_("Redemptions")),
        compact=True,
    )
