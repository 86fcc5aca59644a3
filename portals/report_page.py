"""The program report as the portal shows it: one builder for the dashboard, its CSV and
ZIP downloads and the monthly PDF, so a figure reads the same everywhere. Its parts
(definitions, tables, tiles) are in ``portals.report_parts``, its charts in
``portals.report_charts``."""

import datetime
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pygal
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core import formatting
from core.percentiles import Durations
from customercare.reports import MerchantCareReport
from fulfillment.reports import RewardsReport, RewardsRow
from loyalty.reports.selectors import ProgramReport, TopMember
from merchants.models import Merchant
from portals import charts, report_parts
from portals import report_charts as report_charts_module
from portals.exports import Money, Table
from portals.periods import Period
from portals.report_charts import report_charts
from portals.report_parts import (
    Column,
    ReportTable,
    Tile,
    amounts_cell,
    definition,
    tile,
)
from portals.snapshots import PeriodFigures, period_figures

# -- the report ------------------------------------------------------------------------------


@dataclass
class Report:
    merchant: Merchant
    period: Period
    previous_period: Period
    program: ProgramReport
    previous: ProgramReport
    rewards: RewardsReport
    care: MerchantCareReport
    top_by_points: list[TopMember]
    top_by_orders: list[TopMember]
    tiles: dict[str, list[Tile]] = field(default_factory=dict)
    tables: dict[str, ReportTable] = field(default_factory=dict)
    charts: dict[str, str] = field(default_factory=dict)
    # What its drawing follows from: the key its charts and its page sections are kept
    # under in the cache (``report_build``).
    version: str = ""

    @property
    def currency(self) -> str:
        return self.program.currency

    @property
    def points_name(self) -> str:
        return self.program.points_name

    @property
    def export_prefix(self) -> str:
        return f"{self.merchant.slug}-{self.period.start.isoformat()}-{self.period.end.isoformat()}"

    def table_by_slug(self, slug: str) -> ReportTable | None:
        return next((table for table in self.tables.values() if table.slug == slug), None)

    @property
    def expected_redemption(self) -> Decimal:
        return Decimal(1) - self.program.deferred_revenue.breakage_rate

    @property
    def deferred_basis(self) -> str:
        """How the breakage estimate was made, in a sentence."""
        deferred = self.program.deferred_revenue
        if deferred.basis == "no_expiry":
            return str(_("Your points never expire, so no breakage is assumed."))
        if deferred.basis == "no_points":
            return str(_("No points have been issued yet, so no breakage is assumed."))
        months = (
            formatting.date_range(deferred.cohorts[0], deferred.cohorts[-1])
            if deferred.cohorts
            else formatting.MISSING
        )
        figures = {
            "expired": formatting.points(deferred.expired),
            "issued": formatting.points(deferred.issued),
            "months": months,
        }
        if deferred.basis == "mature":
            return str(
                _(
                    "Estimated from the months whose points can no longer expire (%(months)s): "
                    "%(expired)s of %(issued)s points issued expired."
                )
                % figures
            )
        return str(
            _(
                "No month is old enough for all its points to have had the chance to expire, so "
                "the estimate uses every month so far (%(months)s: %(expired)s of %(issued)s "
                "points expired) and will rise as they mature."
            )
            % figures
        )

    def exports(self) -> list[Table]:
        return [table.as_export(prefix=self.export_prefix) for table in self.tables.values()]


def merchant_today(merchant: Merchant) -> datetime.date:
    return timezone.localtime(timezone.now(), merchant.timezone).date()


def report_build(
    *,
    merchant: Merchant,
    period: Period,
    with_top: bool = True,
    previous: Period | None = None,
    with_charts: bool = True,
) -> Report:
    """Every figure, tile, table and (unless ``with_charts`` is off: a download needs none)
    chart of ``period``, compared with ``previous`` (by default the days just before, as
    many)."""
    previous_period = previous or period.previous()
    now, before = period_figures(merchant=merchant, periods=[period, previous_period])
    program = now.program
    report = Report(
        merchant=merchant,
        period=period,
        previous_period=previous_period,
        program=program,
        previous=before.program,
        rewards=now.rewards,
        care=now.care,
        top_by_points=list(program.top_by_points) if with_top else [],
        top_by_orders=list(program.top_by_orders) if with_top else [],
    )
    _tiles(report)
    _tables(report, with_top=with_top)
    report.version = _version(report, now, before, with_top)
    if with_charts:
        _charts(report)
    return report


def _tiles(report: Report) -> None:
    now, before = report.program, report.previous
    currency = now.currency

    def points(value: int | Decimal | None) -> str:
        return formatting.points(value)

    def money(value: int | Decimal | None) -> str:
        return formatting.money(value, currency)

    def percent(value: int | Decimal | None) -> str:
        return formatting.percent(value)

    report.tiles["members"] = [
        tile("members_total", now.members_total, before.members_total, points),
        tile("members_new", now.members_new, before.members_new, points),
        tile("members_active", now.members_active, before.members_active, points),
        tile("tier_moves_up", now.tier_moves_up, before.tier_moves_up, points),
        tile("tier_moves_down", now.tier_moves_down, before.tier_moves_down, points),
    ]
    report.tiles["points"] = [
        tile(key, getattr(now, key), getattr(before, key), points)
        for key in (
            "points_issued",
            "points_released",
            "points_redeemed",
            "points_given_back",
            "points_expired",
            "points_adjusted_staff",
            "points_adjusted_goodwill",
            "points_reversed",
            "points_pending",
            "points_spendable",
        )
    ]
    deferred = now.deferred_revenue
    report.tiles["liability"] = [
        tile(
            "liability_points",
            now.liability_points,
            before.liability_points,
            points,
            note=str(_("spendable and pending at the end of the period")),
        ),
        tile("liability_money", now.liability_money, before.liability_money, money),
        tile("redemption_rate", now.redemption_rate, before.redemption_rate, percent),
        tile("breakage", deferred.breakage_rate, None, percent, compare=False),
        tile(
            "deferred_revenue",
            deferred.amount,
            None,
            money,
            compare=False,
            note=str(_("an estimate for your accountant")),
        ),
    ]
    orders, orders_before = now.orders, before.orders
    report.tiles["orders"] = [
        tile("orders", orders.orders, orders_before.orders, points),
        tile("revenue", orders.revenue, orders_before.revenue, money),
        tile(
            "average_order_value",
            orders.average_order_value,
            orders_before.average_order_value,
            money,
        ),
        tile(
            "repeat_purchase_rate",
            orders.repeat_purchase_rate,
            orders_before.repeat_purchase_rate,
            percent,
        ),
    ]
    rewards, care = report.rewards, report.care
    report.tiles["rewards"] = [
        tile("redemptions", rewards.redemptions, None, points, compare=False),
        tile("points_spent", rewards.points_spent, None, points, compare=False),
        Tile(key="reward_value", value=formatting.amounts(rewards.value)),
        tile("rewards_refunded", rewards.refunded, None, points, compare=False),
        Tile(
            key="fulfillment_time",
            value=formatting.duration(rewards.fulfillment_time.median),
            note=str(_("90th percentile: %(p90)s"))
            % {"p90": formatting.duration(rewards.fulfillment_time.p90)},
        ),
    ]
    report.tiles["care"] = [
        tile("tickets_opened", care.opened, None, points, compare=False),
        tile("tickets_resolved", care.resolved, None, points, compare=False),
        Tile(
            key="first_response",
            value=formatting.duration(care.first_response.median),
            note=str(_("90th percentile: %(p90)s"))
            % {"p90": formatting.duration(care.first_response.p90)},
        ),
        Tile(
            key="resolution_time",
            value=formatting.duration(care.resolution.median),
            note=str(_("90th percentile: %(p90)s"))
            % {"p90": formatting.duration(care.resolution.p90)},
        ),
        Tile(
            key="csat",
            value=(
                formatting.number(care.csat.average, places=1)
                if care.csat.average is not None
                else formatting.MISSING
            ),
            note=str(_("%(satisfied)s satisfied, %(count)s ratings"))
            % {
                "satisfied": formatting.percent(
                    formatting.ratio_of(care.csat.satisfied, care.csat.count)
                ),
                "count": formatting.points(care.csat.count),
            },
        ),
    ]


def _money(amount: Decimal | None, currency: str) -> Money | None:
    return None if amount is None else Money(amount, currency)


def _rewards_rows(rows: Sequence[RewardsRow]) -> tuple[tuple[object, ...], ...]:
    return tuple(
        (row.label, row.redemptions, row.quantity, row.points, amounts_cell(row.value))
        for row in rows
    )


def _durations_row(label: str, durations: Durations) -> tuple[object, ...]:
    return (label, durations.count, durations.median, durations.p90)


def _tables(report: Report, *, with_top: bool) -> None:
    now, before = report.program, report.previous
    currency = now.currency
    compare_columns = (
        Column(_("Figure")),
        Column(report.period.range_label, "points"),
        Column(report.previous_period.range_label, "points"),
    )
    tables = [
        ReportTable(
            slug="members",
            title=str(_("Members")),
            keys=(
                "members_total",
                "members_new",
                "members_active",
                "tier_moves_up",
                "tier_moves_down",
            ),
            columns=compare_columns,
            rows=tuple(
                (str(definition(key).label), getattr(now, key), getattr(before, key))
                for key in (
                    "members_total",
                    "members_new",
                    "members_active",
                    "tier_moves_up",
                    "tier_moves_down",
                )
            ),
        ),
        ReportTable(
            slug="members-by-tier",
            title=str(_("Members by tier at the end of the period")),
            keys=("members_by_tier",),
            columns=(Column(_("Tier")), Column(_("Members"), "count")),
            rows=tuple(
                (str(tier.name or _("No tier")), tier.members) for tier in now.members_by_tier
            ),
        ),
        ReportTable(
            slug="points",
            title=str(_("Points")),
            keys=tuple(tile.key for tile in report.tiles["points"]),
            columns=compare_columns,
            rows=tuple(
                (tile.label, getattr(now, tile.key), getattr(before, tile.key))
                for tile in report.tiles["points"]
            ),
        ),
        ReportTable(
            slug="liability",
            title=str(_("Outstanding points and their accounting")),
            keys=(
                "liability_points",
                "liability_money",
                "redemption_rate",
                "breakage",
                "deferred_revenue",
            ),
            columns=(
                Column(_("Figure")),
                Column(_("Points"), "points"),
                Column(_("Value"), "money"),
                Column(_("Rate"), "percent"),
            ),
            rows=(
                (
                    str(definition("liability_points").label),
                    now.liability_points,
                    _money(now.liability_money, currency),
                    None,
                ),
                (
                    str(definition("redemption_rate").label),
                    now.points_redeemed,
                    None,
                    now.redemption_rate,
                ),
                (
                    str(definition("breakage").label),
                    now.deferred_revenue.expired,
                    None,
                    now.deferred_revenue.breakage_rate,
                ),
                (
                    str(definition("deferred_revenue").label),
                    None,
                    _money(now.deferred_revenue.amount, currency),
                    Decimal(1) - now.deferred_revenue.breakage_rate,
                ),
            ),
        ),
        ReportTable(
            slug="breakage-by-cohort",
            title=str(_("Breakage by the month points were issued")),
            keys=("breakage",),
            columns=(
                Column(_("Issued in"), "month"),
                Column(_("Issued"), "points"),
                Column(_("Redeemed"), "points"),
                Column(_("Expired"), "points"),
                Column(_("Breakage"), "percent"),
                Column(_("Settled")),
            ),
            rows=tuple(
                (
                    cohort.month,
                    cohort.issued,
                    cohort.redeemed - cohort.given_back,
                    cohort.expired,
                    formatting.ratio_of(cohort.expired, cohort.issued),
                    str(_("no") if cohort.young else _("yes")),
                )
                for cohort in now.cohorts
            ),
        ),
        ReportTable(
            slug="orders",
            title=str(_("Orders of members")),
            keys=("orders", "revenue", "average_order_value", "repeat_purchase_rate", "redeemers"),
            columns=(
                Column(_("Members")),
                Column(_("With orders"), "count"),
                Column(_("Orders"), "count"),
                Column(_("Revenue"), "money"),
                Column(_("Average order"), "money"),
                Column(_("Repeat purchase rate"), "percent"),
            ),
            rows=tuple(
                (
                    label,
                    figures.members,
                    figures.orders,
                    _money(figures.revenue, currency),
                    _money(figures.average_order_value, currency),
                    figures.repeat_purchase_rate,
                )
                for label, figures in (
                    (str(_("All members")), now.orders),
                    (str(_("Redeemed in the period")), now.orders_redeemers),
                    (str(_("Did not redeem")), now.orders_non_redeemers),
                )
            ),
        ),
        ReportTable(
            slug="daily",
            title=str(_("Day by day")),
            keys=(
                "points_issued",
                "points_redeemed",
                "points_expired",
                "members_new",
                "orders",
                "revenue",
            ),
            columns=(
                Column(_("Day"), "date"),
                Column(_("Issued"), "points"),
                Column(_("Redeemed"), "points"),
                Column(_("Expired"), "points"),
                Column(_("New members"), "count"),
                Column(_("Orders"), "count"),
                Column(_("Revenue"), "money"),
            ),
            rows=tuple(
                (
                    day.day,
                    day.issued,
                    day.redeemed,
                    day.expired,
                    day.new_members,
                    day.orders,
                    _money(day.revenue, currency),
                )
                for day in now.daily
            ),
        ),
    ]
    reward_columns = (
        Column(_("Reward")),
        Column(_("Redemptions"), "count"),
        Column(_("Units"), "count"),
        Column(_("Points spent"), "points"),
        Column(_("Reward value"), "money"),
    )
    rewards = report.rewards
    for slug, title, first, rows in (
        ("rewards-by-reward", _("Redemptions by reward"), _("Reward"), rewards.by_reward),
        ("rewards-by-type", _("Redemptions by reward type"), _("Type"), rewards.by_type),
        ("rewards-by-country", _("Redemptions by country"), _("Country"), rewards.by_country),
    ):
        tables.append(
            ReportTable(
                slug=slug,
                title=str(title),
                keys=("redemptions", "points_spent", "reward_value"),
                columns=(Column(first), *reward_columns[1:]),
                rows=_rewards_rows(rows),
            )
        )
    tables.append(
        ReportTable(
            slug="service-times",
            title=str(_("Delivery and care times")),
            keys=("fulfillment_time", "first_response", "resolution_time"),
            columns=(
                Column(_("Time")),
                Column(_("Counted"), "count"),
                Column(_("Median"), "hours"),
                Column(_("90th percentile"), "hours"),
            ),
            rows=(
                _durations_row(str(_("Reward delivery")), rewards.fulfillment_time),
                _durations_row(str(_("First response to a ticket")), report.care.first_response),
                _durations_row(str(_("Ticket resolution")), report.care.resolution),
            ),
        )
    )
    care = report.care
    tables.append(
        ReportTable(
            slug="care",
            title=str(_("Customer care")),
            keys=("tickets_opened", "tickets_resolved", "csat", "rewards_refunded"),
            columns=(Column(_("Figure")), Column(_("Value"), "count")),
            rows=(
                (str(_("Tickets opened")), care.opened),
                (str(_("Tickets resolved")), care.resolved),
                (str(_("CSAT ratings")), care.csat.count),
                (str(_("CSAT ratings of 4 or 5")), care.csat.satisfied),
                (str(_("Refunded redemptions")), rewards.refunded),
                (str(_("Points given back on refunded redemptions")), rewards.points_refunded),
            ),
        )
    )
    if with_top:
        for slug, key, members, unit in (
            ("top-members-by-points", "top_members_points", report.top_by_points, "points"),
            ("top-members-by-orders", "top_members_orders", report.top_by_orders, "count"),
        ):
            tables.append(
                ReportTable(
                    slug=slug,
                    title=str(definition(key).label),
                    keys=(key,),
                    columns=(
                        Column(_("Rank"), "count"),
                        Column(_("Member id")),
                        Column(_("Name")),
                        Column(_("Points earned") if unit == "points" else _("Orders"), unit),
                    ),
                    rows=tuple(
                        (rank, member.external_id, member.name, member.value)
                        for rank, member in enumerate(members, start=1)
                    ),
                )
            )
    # Keyed by a name templates can read (``members_by_tier``); URLs use the slug.
    report.tables = {table.slug.replace("-", "_"): table for table in tables}


# What the report's charts and sections are drawn by: another version draws them again.
_DRAWN_BY = (
    Path(charts.__file__),
    Path(report_charts_module.__file__),
    Path(report_parts.__file__),
    Path(formatting.__file__),
    Path(__file__),
    *sorted((Path(__file__).parent / "templates" / "portals" / "reports").glob("_*.html")),
)
_CODE = hashlib.sha256(
    b"".join(path.read_bytes() for path in _DRAWN_BY) + pygal.__version__.encode()
).hexdigest()[:12]
KEPT_SECONDS = 24 * 60 * 60


def _version(report: Report, now: PeriodFigures, before: PeriodFigures, with_top: bool) -> str:
    """What the report's drawing follows from: the two periods' figures (named by when
    each was computed), the reader's language, whether it lists top members, and the
    code that draws it."""
    return ":".join(
        (
            _CODE,
            str(report.merchant.pk),
            report.period.start.isoformat(),
            report.period.end.isoformat(),
            now.computed_at.isoformat(),
            report.previous_period.start.isoformat(),
            report.previous_period.end.isoformat(),
            before.computed_at.isoformat(),
            get_language() or "",
            "top" if with_top else "",
        )
    )


def _charts(report: Report) -> None:
    """Draw the report's charts, or take them from the cache: drawing a year of days
    takes longer than the rest of the page."""
    key = f"report-charts:{report.version}"
    drawn = cache.get(key)
    if isinstance(drawn, dict):
        report.charts = drawn
        return
    report_charts(report)
    cache.set(key, report.charts, KEPT_SECONDS)
