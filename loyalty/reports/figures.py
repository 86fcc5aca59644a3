"""The report's figures from the aggregates' sums: pure arithmetic, no ORM.

Points are ``int``; money is ``Decimal`` in the program's currency, quantized by
``core.money.quantize_money``; ratios are ``Decimal`` with ``RATIO_PLACES`` places
(``core.money.quantize_places``), or None when there is nothing to divide by.

Breakage and deferred revenue (IFRS 15 / ASC 606): points are a separate performance
obligation; the revenue of points not yet redeemed is deferred, less the share expected
never to be redeemed (breakage). The estimate is the share of points that expired in
*mature* cohorts (issue months whose points can no longer expire: all of them were
redeemed, expired or are past their expiry date). Without a mature cohort yet, the share
expired so far across every cohort stands in (a lower bound, said so in the basis).
"""

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from core.money import quantize_money, quantize_places

RATIO_PLACES = 4
ZERO = Decimal(0)


def ratio(numerator: int | Decimal, denominator: int | Decimal) -> Decimal | None:
    if not denominator:
        return None
    return quantize_places(Decimal(numerator) / Decimal(denominator), RATIO_PLACES)


def points_money(points: int, point_value: Decimal, currency: str) -> Decimal:
    return quantize_money(Decimal(points) * point_value, currency)


def average(amount: Decimal, count: int, currency: str) -> Decimal | None:
    if not count:
        return None
    return quantize_money(amount / count, currency)


# -- cohorts -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Cohort:
    """The points earned in one local month, and what became of them up to the end."""

    month: datetime.date
    issued: int
    redeemed: int
    given_back: int
    expired: int
    reversed: int
    adjusted: int
    young: bool

    @property
    def redeemed_net(self) -> int:
        return self.redeemed - self.given_back

    @property
    def outstanding(self) -> int:
        return self.issued - self.redeemed_net - self.expired - self.reversed - self.adjusted

    @property
    def breakage(self) -> Decimal | None:
        return ratio(self.expired, self.issued)


def cohort_is_young(
    month: datetime.date, end: datetime.date, expiry_policy: str, expiry_months: int | None
) -> bool:
    """Whether points of the cohort may still expire after ``end``.

    ``lot_age``: the cohort's last lots (earned on its last day) expire ``expiry_months``
    later. ``inactivity``: any point may expire once its member is idle that long; a
    cohort older than that has had its full chance, and counts as mature. ``never``:
    nothing will ever expire."""
    if expiry_policy == "never" or not expiry_months:
        return False
    last_expiry = month + relativedelta(months=1 + expiry_months)
    return last_expiry > end + datetime.timedelta(days=1)


def cohorts_from_movements(
    sums: Mapping[tuple[datetime.date, str], int],
    *,
    end: datetime.date,
    expiry_policy: str,
    expiry_months: int | None,
) -> list[Cohort]:
    """Cohorts from their signed movement sums, by (cohort month, movement)."""
    months = sorted({month for month, _ in sums})

    def total(month: datetime.date, movement: str) -> int:
        return sums.get((month, movement), 0)

    return [
        Cohort(
            month=month,
            issued=total(month, "issue"),
            redeemed=-total(month, "redeem"),
            given_back=total(month, "redemption_refund"),
            expired=-total(month, "expire"),
            reversed=-total(month, "reverse"),
            adjusted=-total(month, "adjust"),
            young=cohort_is_young(month, end, expiry_policy, expiry_months),
        )
        for month in months
    ]


# -- deferred revenue --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DeferredRevenue:
    amount: Decimal
    liability: Decimal
    breakage_rate: Decimal
    # The cohorts the rate was estimated from, their points issued and expired.
    cohorts: tuple[datetime.date, ...]
    issued: int
    expired: int
    # "mature": mature cohorts; "all_cohorts": none is mature yet, every cohort so far;
    # "no_expiry": points never expire, no breakage; "no_points": nothing issued yet.
    basis: str


def deferred_revenue(
    *, liability: Decimal, cohorts: Iterable[Cohort], expiry_policy: str, currency: str
) -> DeferredRevenue:
    cohorts = list(cohorts)
    mature = [cohort for cohort in cohorts if not cohort.young]
    if expiry_policy == "never":
        used, basis = [], "no_expiry"
    elif mature and sum(c.issued for c in mature):
        used, basis = mature, "mature"
    elif sum(c.issued for c in cohorts):
        used, basis = cohorts, "all_cohorts"
    else:
        used, basis = [], "no_points"
    issued = sum(cohort.issued for cohort in used)
    expired = sum(cohort.expired for cohort in used)
    rate = ratio(expired, issued) or ZERO
    return DeferredRevenue(
        amount=quantize_money(liability * (1 - rate), currency),
        liability=liability,
        breakage_rate=rate,
        cohorts=tuple(cohort.month for cohort in used),
        issued=issued,
        expired=expired,
        basis=basis,
    )


# -- tiers -------------------------------------------------------------------------------


def tier_counts(
    *, members: int, moves: Mapping[tuple[int | None, int | None], int]
) -> dict[int | None, int]:
    """Members in each tier (None: no tier) from everyone who joined and every move up to
    then: a member joins with no tier."""
    counts: dict[int | None, int] = {None: members}
    for (from_tier, to_tier), number in moves.items():
        counts[from_tier] = counts.get(from_tier, 0) - number
        counts[to_tier] = counts.get(to_tier, 0) + number
    return counts


def moves_up_down(
    moves: Mapping[tuple[int | None, int | None], int], thresholds: Mapping[int, Decimal]
) -> tuple[int, int]:
    """How many moves went to a higher tier, and how many to a lower one (no tier is the
    lowest)."""
    up = down = 0
    for (from_tier, to_tier), number in moves.items():
        low = thresholds.get(from_tier) if from_tier is not None else None
        high = thresholds.get(to_tier) if to_tier is not None else None
        if high is not None and (low is None or high > low):
            up += number
        elif low is not None and (high is None or high < low):
            down += number
    return up, down


# -- orders ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrderFigures:
    """Orders of a set of members in the period."""

    members: int  # with at least one order
    repeat_members: int  # with two or more
    orders: int
    revenue: Decimal
    average_order_value: Decimal | None
    repeat_purchase_rate: Decimal | None


def order_figures(
    *, members: int, repeat_members: int, orders: int, revenue: Decimal, currency: str
) -> OrderFigures:
    return OrderFigures(
        members=members,
        repeat_members=repeat_members,
        orders=orders,
        revenue=quantize_money(revenue, currency),
        average_order_value=average(revenue, orders, currency),
        repeat_purchase_rate=ratio(repeat_members, members),
    )
