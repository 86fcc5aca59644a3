"""A campaign's report: who it targeted and reached, what it gave, and whether it worked.

Targeted: the members the campaign was for during its window (every member of the
merchant who joined before it ended, or those who were in one of its segments at some
time in the window). The control group is the part of them the holdout draw kept out
(``rules.holdout_bucket``); the others are the reached group's pool. Over the window
(from the start to the end, or to now while it runs), each group's orders per member,
revenue per member (in the program's currency, refunds taken off) and redemption rate
(the share who redeemed points) are compared: the lift is the difference of the means,
with a 95% confidence interval by the normal approximation of a two-sample test
(difference ± 1.96 · √(s₁²/n₁ + s₂²/n₂)); it is significant when the interval leaves
out zero. Incremental revenue (the revenue lift times the members who could get the
incentive) set against the value of the points given says whether it paid for itself.
"""

import csv
import datetime
import io
import math
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty.models import (
    Campaign,
    CampaignAward,
    CampaignSpend,
    LedgerEntry,
    Member,
    Order,
    SegmentMembership,
)
from loyalty.rules import HOLDOUT_BUCKETS, holdout_bucket
from loyalty.segments.query import NET_TOTAL

Z_95 = 1.959964


@dataclass(frozen=True)
class GroupStats:
    members: int
    orders: float  # per member
    orders_sd: float
    revenue: float  # per member, program currency
    revenue_sd: float
    redemption_rate: float  # share of members who redeemed


@dataclass(frozen=True)
class Lift:
    metric: str
    treated: float
    control: float
    difference: float
    low: float
    high: float

    @property
    def relative(self) -> float | None:
        return self.difference / self.control if self.control else None

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class CampaignReport:
    campaign: Campaign
    window_start: datetime.datetime
    window_end: datetime.datetime
    targeted: int
    reached: int
    points_given: int
    budget: int | None
    orders_influenced: int
    revenue_influenced: Decimal
    treated: GroupStats
    control: GroupStats | None
    lifts: tuple[Lift, ...]
    points_cost: Decimal  # what the points given are worth, in the program's currency
    incremental_revenue: Decimal | None

    @property
    def budget_used(self) -> float | None:
        return self.points_given / self.budget if self.budget else None

    @property
    def paid_for_itself(self) -> bool | None:
        if self.incremental_revenue is None:
            return None
        return self.incremental_revenue >= self.points_cost


def _targeted(campaign: Campaign, start: datetime.datetime, end: datetime.datetime):
    members = Member.objects.filter(merchant_id=campaign.program.merchant_id, created_at__lt=end)
    segment_ids = list(campaign.segments.values_list("pk", flat=True))
    if segment_ids:
        stays = SegmentMembership.objects.filter(
            member=OuterRef("pk"), segment_id__in=segment_ids, joined_at__lt=end
        ).filter(Q(left_at__isnull=True) | Q(left_at__gt=start))
        members = members.filter(Exists(stays))
    return members


def _per_member(members, start: datetime.datetime, end: datetime.datetime):
    orders = Order.objects.filter(member=OuterRef("pk"), placed_at__gte=start, placed_at__lt=end)
    count = orders.order_by().values("member").annotate(n=Count("pk")).values("n")
    revenue = orders.order_by().values("member").annotate(v=Sum(NET_TOTAL)).values("v")
    redeemed = LedgerEntry.objects.filter(
        member=OuterRef("pk"),
        kind=LedgerEntry.Kind.REDEEM,
        created_at__gte=start,
        created_at__lt=end,
    )
    money = DecimalField(max_digits=20, decimal_places=4)
    return members.annotate(
        n_orders=Coalesce(Subquery(count, output_field=IntegerField()), Value(0)),
        revenue=Coalesce(
            Subquery(revenue, output_field=money), Value(Decimal(0)), output_field=money
        ),
        redeemed=Exists(redeemed),
    ).values_list("pk", "n_orders", "revenue", "redeemed")


class _Accumulator:
    def __init__(self) -> None:
        self.n = 0
        self.orders = self.orders_sq = 0.0
        self.revenue = self.revenue_sq = 0.0
        self.redeemed = 0

    def add(self, orders: int, revenue: float, redeemed: bool) -> None:
        self.n += 1
        self.orders += orders
        self.orders_sq += orders * orders
        self.revenue += revenue
        self.revenue_sq += revenue * revenue
        self.redeemed += int(redeemed)

    def stats(self) -> GroupStats:
        n = self.n
        if n == 0:
            return GroupStats(0, 0.0, 0.0, 0.0, 0.0, 0.0)
        return GroupStats(
            members=n,
            orders=self.orders / n,
            orders_sd=_sd(self.orders, self.orders_sq, n),
            revenue=self.revenue / n,
            revenue_sd=_sd(self.revenue, self.revenue_sq, n),
            redemption_rate=self.redeemed / n,
        )


def _sd(total: float, squares: float, n: int) -> float:
    if n < 2:
        return 0.0
    return math.sqrt(max(0.0, (squares - total * total / n) / (n - 1)))


def lift(
    metric: str, treated: float, t_sd: float, n_t: int, control: float, c_sd: float, n_c: int
) -> Lift:
    """The difference of two means with its 95% interval (normal approximation)."""
    difference = treated - control
    margin = Z_95 * math.sqrt((t_sd**2) / n_t + (c_sd**2) / n_c) if n_t and n_c else math.inf
    return Lift(metric, treated, control, difference, difference - margin, difference + margin)


def _rate_sd(rate: float) -> float:
    return math.sqrt(rate * (1 - rate))


def campaign_report(*, campaign: Campaign, now: datetime.datetime | None = None) -> CampaignReport:
    now = now or timezone.now()
    program = campaign.program
    start = campaign.starts_at
    end = min(campaign.ends_at, max(now, start))
    threshold = float(campaign.holdout_percent) * HOLDOUT_BUCKETS / 100
    treated, control = _Accumulator(), _Accumulator()
    for member_id, orders, revenue, redeemed in _per_member(
        _targeted(campaign, start, end), start, end
    ).iterator(chunk_size=5000):
        group = control if holdout_bucket(campaign.pk, str(member_id)) < threshold else treated
        group.add(orders, float(revenue), redeemed)
    awards = CampaignAward.objects.filter(campaign=campaign)
    influenced = Order.objects.filter(
        pk__in=awards.filter(order__isnull=False).values("order_id")
    ).aggregate(n=Count("pk"), revenue=Sum(NET_TOTAL))
    spend = CampaignSpend.objects.filter(campaign=campaign).first()
    points_given = spend.points_given if spend else 0
    t, c = treated.stats(), control.stats() if control.n else None
    lifts: tuple[Lift, ...] = ()
    incremental = None
    if c is not None and t.members:
        lifts = (
            lift(
                "Orders per member",
                t.orders,
                t.orders_sd,
                t.members,
                c.orders,
                c.orders_sd,
                c.members,
            ),
            lift(
                "Revenue per member",
                t.revenue,
                t.revenue_sd,
                t.members,
                c.revenue,
                c.revenue_sd,
                c.members,
            ),
            lift(
                "Redemption rate",
                t.redemption_rate,
                _rate_sd(t.redemption_rate),
                t.members,
                c.redemption_rate,
                _rate_sd(c.redemption_rate),
                c.members,
            ),
        )
        incremental = Decimal(str(round(lifts[1].difference * t.members, 2)))
    return CampaignReport(
        campaign=campaign,
        window_start=start,
        window_end=end,
        targeted=treated.n + control.n,
        reached=awards.values("member_id").distinct().count(),
        points_given=points_given,
        budget=campaign.points_budget,
        orders_influenced=influenced["n"] or 0,
        revenue_influenced=influenced["revenue"] or Decimal(0),
        treated=t,
        control=c,
        lifts=lifts,
        points_cost=(Decimal(points_given) * program.point_value).quantize(Decimal("0.01")),
        incremental_revenue=incremental,
    )


def report_csv(report: CampaignReport) -> str:
    """The report as CSV: one figure per row, then the comparison."""
    out = io.StringIO()
    writer = csv.writer(out)
    currency = report.campaign.program.currency
    writer.writerow(["Campaign", report.campaign.name])
    writer.writerow(["Window", report.window_start.isoformat(), report.window_end.isoformat()])
    rows = [
        ("Members targeted", report.targeted),
        ("Members reached", report.reached),
        ("Points given", report.points_given),
        ("Budget", report.budget if report.budget is not None else "no limit"),
        ("Orders influenced", report.orders_influenced),
        (f"Revenue influenced ({currency})", f"{report.revenue_influenced:.2f}"),
        (f"Value of the points given ({currency})", f"{report.points_cost:.2f}"),
    ]
    if report.incremental_revenue is not None:
        rows.append((f"Incremental revenue ({currency})", f"{report.incremental_revenue:.2f}"))
    writer.writerows(rows)
    if report.lifts:
        writer.writerow([])
        writer.writerow(
            [
                "Metric",
                f"Campaign group ({report.treated.members})",
                f"Control group ({report.control.members})",
                "Lift",
                "95% low",
                "95% high",
                "Significant",
            ]
        )
        for item in report.lifts:
            writer.writerow(
                [
                    item.metric,
                    f"{item.treated:.4f}",
                    f"{item.control:.4f}",
                    f"{item.difference:.4f}",
                    f"{item.low:.4f}",
                    f"{item.high:.4f}",
                    "yes" if item.significant else "no",
                ]
            )
    return out.getvalue()
