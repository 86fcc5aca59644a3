"""The report's reads: every figure of a period from the daily aggregates, never from the
ledger. Each read is ``merchant = X and day between a and b`` (or ``day <= b`` for the
totals at the end) on a table indexed by ``(merchant, day)``; ``program_report`` takes a
fixed number of queries however much data there is. Reads go where the database router
sends them (the replica when one is configured).

Periods are inclusive local dates of the merchant (``Merchant.timezone``). To compare
with the previous period, call ``program_report`` again with it.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connections, router
from django.db.models import Case, F, IntegerField, Max, Q, Sum, When
from django.db.models.functions import Coalesce

from core.exceptions import DomainError
from core.money import quantize_money
from loyalty.exceptions import NoActiveProgram
from loyalty.models import (
    LedgerEntry,
    Member,
    Program,
    ReportCohortDay,
    ReportDayStamp,
    ReportEntryDay,
    ReportJoinDay,
    ReportMemberDay,
    ReportOrderDay,
    ReportTierMoveDay,
    Tier,
)
from loyalty.reports import figures
from loyalty.reports.aggregates import aggregates_as_of
from loyalty.reports.figures import Cohort, DeferredRevenue, OrderFigures
from merchants.models import Merchant

Kind = LedgerEntry.Kind
Source = LedgerEntry.Source
# The longest period a report covers (its daily series has a row a day).
MAX_DAYS = 3 * 366
TOP_BY = {"points": "points_earned", "orders": "orders"}
MAX_TOP = 100


@dataclass(frozen=True, kw_only=True)
class TierCount:
    tier_id: int | None  # None: members without a tier
    name: str
    members: int


@dataclass(frozen=True, kw_only=True)
class DayFigures:
    day: datetime.date
    issued: int
    redeemed: int
    expired: int
    new_members: int
    orders: int
    revenue: Decimal


@dataclass(frozen=True, kw_only=True)
class ProgramReport:
    start: datetime.date
    end: datetime.date
    as_of: datetime.datetime | None
    currency: str
    point_value: Decimal
    points_name: str
    # members
    members_total: int
    members_new: int
    members_active: int
    members_by_tier: tuple[TierCount, ...]
    tier_moves_up: int
    tier_moves_down: int
    # points in the period
    points_issued: int
    points_released: int
    points_redeemed: int
    points_given_back: int
    points_expired: int
    points_adjusted_staff: int
    points_adjusted_goodwill: int
    points_reversed: int
    # at the end
    points_pending: int
    points_spendable: int
    liability_points: int
    liability_money: Decimal
    redemption_rate: Decimal | None
    cohorts: tuple[Cohort, ...]
    deferred_revenue: DeferredRevenue
    # orders of members in the period
    orders: OrderFigures
    orders_redeemers: OrderFigures
    orders_non_redeemers: OrderFigures
    refunds: int
    refunded: Decimal
    daily: tuple[DayFigures, ...]
    # the members who earned the most points and placed the most orders (``top``)
    top_by_points: tuple["TopMember", ...] = ()
    top_by_orders: tuple["TopMember", ...] = ()


@dataclass(frozen=True, kw_only=True)
class TopMember:
    member_id: int
    external_id: str
    name: str
    value: int


def _check_period(start: datetime.date, end: datetime.date) -> None:
    if not isinstance(start, datetime.date) or not isinstance(end, datetime.date):
        raise DomainError("A period is two dates.", field="start")
    if start > end:
        raise DomainError("The period ends before it starts.", field="end")
    if (end - start).days + 1 > MAX_DAYS:
        raise DomainError(f"A period covers {MAX_DAYS} days at most.", field="end")


def report_program(*, merchant: Merchant) -> Program:
    """The program the reports are of: the active one, or the latest."""
    program = Program.objects.filter(merchant=merchant).order_by("-is_active", "-pk").first()
    if program is None:
        raise NoActiveProgram("Configure the merchant's program first.")
    return program


def _in_period(field: str, start: datetime.date) -> Case:
    """The column's value on days from ``start`` on (the queryset stops at the end)."""
    return Sum(Case(When(day__gte=start, then=F(field)), default=0))


def _days(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    return [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]


@dataclass(frozen=True)
class _MemberGroup:
    """Members of the period who redeemed in it (or did not): how many were active, how
    many ordered once or more and twice or more, and their orders and revenue."""

    active: int = 0
    ordered: int = 0
    repeat: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)


def _member_groups(
    merchant: Merchant, start: datetime.date, end: datetime.date, *, top: int = 0
) -> tuple[dict[bool, _MemberGroup], dict[str, list[tuple[int, int]]]]:
    """The distinct-member figures of the period, split by whether the member redeemed in
    it, and the ``top`` members by points earned and by orders as (member id, value):
    one query, one pass over the period's member days (grouped by member, then by the
    redeemed flag and ranked)."""
    db = router.db_for_read(ReportMemberDay)

    def flag(condition: Q) -> Max:
        return Max(Case(When(condition, then=1), default=0, output_field=IntegerField()))

    per_member = (
        ReportMemberDay.objects.using(db)
        .filter(merchant=merchant, day__range=(start, end))
        .values(u=F("member"))
        .annotate(
            o=Sum("orders"),
            r=Sum("revenue"),
            p=Sum("points_earned"),
            x=flag(Q(redeemed=True)),
            a=flag(Q(earned=True) | Q(spent=True) | Q(ordered=True)),
        )
        .values("u", "o", "r", "p", "x", "a")
        .order_by()
    )
    sql, params = per_member.query.get_compiler(using=db).as_sql()
    statement = (
        f"WITH per_member AS ({sql}) "  # noqa: S608 (a compiled query, fixed names)
        "SELECT 'group', x, SUM(a), SUM(CASE WHEN o >= 1 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN o >= 2 THEN 1 ELSE 0 END), SUM(o), SUM(r) "
        "FROM per_member GROUP BY x"
    )
    params = tuple(params)
    if top:
        for key, column in (("points", "p"), ("orders", "o")):
            statement += (
                f" UNION ALL SELECT * FROM (SELECT '{key}', u, {column}, 0, 0, 0, 0 "  # noqa: S608
                f"FROM per_member WHERE {column} > 0 ORDER BY {column} DESC, u LIMIT %s) "
                f"AS top_{key}"
            )
            params += (top,)
    with connections[db].cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    groups = {True: _MemberGroup(), False: _MemberGroup()}
    ranked: dict[str, list[tuple[int, int]]] = {"points": [], "orders": []}
    for kind, key, active, ordered, repeat, orders, revenue in rows:
        if kind != "group":
            ranked[kind].append((int(key), int(active)))
            continue
        groups[bool(key)] = _MemberGroup(
            active=int(active or 0),
            ordered=int(ordered or 0),
            repeat=int(repeat or 0),
            orders=int(orders or 0),
            revenue=Decimal(revenue or 0),
        )
    for values in ranked.values():
        values.sort(key=lambda pair: (-pair[1], pair[0]))
    return groups, ranked


def _top_members(ranked: list[tuple[int, int]], names: dict[int, dict]) -> tuple:
    return tuple(
        TopMember(
            member_id=pk,
            external_id=names[pk]["external_id"],
            name=f"{names[pk]['first_name']} {names[pk]['last_name']}".strip(),
            value=value,
        )
        for pk, value in ranked
    )


def _member_names(merchant: Merchant, ids: set[int]) -> dict[int, dict]:
    if not ids:
        return {}
    return {
        row["pk"]: row
        for row in Member.objects.filter(merchant=merchant, pk__in=ids).values(
            "pk", "external_id", "first_name", "last_name"
        )
    }


def program_report(
    *, merchant: Merchant, start: datetime.date, end: datetime.date, top: int = 0
) -> ProgramReport:
    """Every figure of the merchant's program for the local days ``start`` to ``end``,
    with the ``top`` members by points earned and by orders (none by default; as
    ``top_members`` ranks them, read in the same pass as the member figures)."""
    _check_period(start, end)
    if not isinstance(top, int) or not 0 <= top <= MAX_TOP:
        raise DomainError(f"top is between 0 and {MAX_TOP}.", field="top")
    program = report_program(merchant=merchant)
    currency = program.currency
    upto = {"merchant": merchant, "day__lte": end}
    during = {"merchant": merchant, "day__range": (start, end)}

    # Points by kind and source: in the period, and every entry up to its end.
    # Spendable and pending points moved in the period, by (kind, source).
    period: dict[tuple[str, str], tuple[int, int]] = {}
    spendable = pending = 0
    for row in (
        ReportEntryDay.objects.filter(**upto)
        .values("kind", "source_type")
        .annotate(
            points_in=_in_period("points", start),
            pending_in=_in_period("pending", start),
            points_upto=Sum("points"),
            pending_upto=Sum("pending"),
        )
        .order_by()
    ):
        period[(row["kind"], row["source_type"])] = (row["points_in"], row["pending_in"])
        spendable += row["points_upto"]
        pending += row["pending_upto"]

    def of_kind(
        kind: str,
        *,
        source: str | None = None,
        other_than: str | None = None,
        spendable_only: bool = False,
    ) -> int:
        """Points an entry kind moved in the period, pending ones too unless told."""
        return sum(
            moved_points + (0 if spendable_only else moved_pending)
            for (k, s), (moved_points, moved_pending) in period.items()
            if k == kind and (source is None or s == source) and s != other_than
        )

    issued = of_kind(Kind.EARN)
    given_back = of_kind(Kind.REDEMPTION_REFUND)
    redeemed = -of_kind(Kind.REDEEM) - given_back
    liability_points = spendable + pending
    liability_money = figures.points_money(liability_points, program.point_value, currency)

    movements = {
        (row["cohort"], row["movement"]): row["moved"]
        for row in ReportCohortDay.objects.filter(**upto)
        .values("cohort", "movement")
        .annotate(moved=Sum("points"))
        .order_by()
    }
    cohorts = figures.cohorts_from_movements(
        movements,
        end=end,
        expiry_policy=program.expiry_policy,
        expiry_months=program.expiry_months,
    )

    joined = ReportJoinDay.objects.filter(**upto).aggregate(
        total=Coalesce(Sum("members"), 0), new=Coalesce(_in_period("members", start), 0)
    )
    tiers = {row["id"]: row for row in Tier.objects.filter(program__merchant=merchant).values()}
    moves_upto: dict[tuple[int | None, int | None], int] = {}
    moves_during: dict[tuple[int | None, int | None], int] = {}
    for row in (
        ReportTierMoveDay.objects.filter(**upto)
        .values("from_tier", "to_tier")
        .annotate(total=Sum("moves"), during=_in_period("moves", start))
        .order_by()
    ):
        moves_upto[(row["from_tier"], row["to_tier"])] = row["total"]
        moves_during[(row["from_tier"], row["to_tier"])] = row["during"]
    thresholds = {pk: tier["threshold"] for pk, tier in tiers.items()}
    up, down = figures.moves_up_down(moves_during, thresholds)
    by_tier = figures.tier_counts(members=joined["total"], moves=moves_upto)
    members_by_tier = tuple(
        TierCount(tier_id=pk, name=tiers[pk]["name"] if pk else "", members=by_tier.get(pk, 0))
        for pk in [None, *sorted(tiers, key=lambda pk: (tiers[pk]["threshold"], pk))]
        if pk is None or pk in by_tier or tiers[pk]["program_id"] == program.pk
    )

    groups, ranked = _member_groups(merchant, start, end, top=top)
    names = _member_names(merchant, {pk for pairs in ranked.values() for pk, _ in pairs})

    def order_figures_of(redeemed: list[bool]) -> OrderFigures:
        return figures.order_figures(
            members=sum(groups[g].ordered for g in redeemed),
            repeat_members=sum(groups[g].repeat for g in redeemed),
            orders=sum(groups[g].orders for g in redeemed),
            revenue=sum((groups[g].revenue for g in redeemed), Decimal(0)),
            currency=currency,
        )

    # The daily series.
    entry_days: dict[datetime.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in (
        ReportEntryDay.objects.filter(**during)
        .values("day", "kind")
        .annotate(points_in=Sum("points"), pending_in=Sum("pending"))
        .order_by()
    ):
        entry_days[row["day"]][row["kind"]] += row["points_in"] + row["pending_in"]
    join_days = {
        row["day"]: row["joined"]
        for row in ReportJoinDay.objects.filter(**during)
        .values("day")
        .annotate(joined=Sum("members"))
        .order_by()
    }
    order_days = {
        row["day"]: row
        for row in ReportOrderDay.objects.filter(**during).values(
            "day", "orders", "revenue", "refunds", "refunded"
        )
    }
    daily = tuple(
        DayFigures(
            day=day,
            issued=entry_days[day][Kind.EARN],
            redeemed=-entry_days[day][Kind.REDEEM] - entry_days[day][Kind.REDEMPTION_REFUND],
            expired=-entry_days[day][Kind.EXPIRE],
            new_members=join_days.get(day, 0),
            orders=order_days[day]["orders"] if day in order_days else 0,
            revenue=quantize_money(
                order_days[day]["revenue"] if day in order_days else Decimal(0), currency
            ),
        )
        for day in _days(start, end)
    )

    return ProgramReport(
        start=start,
        end=end,
        as_of=aggregates_as_of(),
        currency=currency,
        point_value=program.point_value,
        points_name=program.points_name,
        members_total=joined["total"],
        members_new=joined["new"],
        members_active=groups[True].active + groups[False].active,
        members_by_tier=members_by_tier,
        tier_moves_up=up,
        tier_moves_down=down,
        points_issued=issued,
        # A release moves points from pending to spendable: what became spendable.
        points_released=of_kind(Kind.RELEASE, spendable_only=True),
        points_redeemed=redeemed,
        points_given_back=given_back,
        points_expired=-of_kind(Kind.EXPIRE),
        points_adjusted_staff=of_kind(Kind.ADJUST, other_than=Source.TICKET),
        points_adjusted_goodwill=of_kind(Kind.ADJUST, source=Source.TICKET),
        points_reversed=-of_kind(Kind.REVERSE),
        points_pending=pending,
        points_spendable=spendable,
        liability_points=liability_points,
        liability_money=liability_money,
        redemption_rate=figures.ratio(redeemed, issued),
        cohorts=tuple(cohorts),
        deferred_revenue=figures.deferred_revenue(
            liability=liability_money,
            cohorts=cohorts,
            expiry_policy=program.expiry_policy,
            currency=currency,
        ),
        orders=order_figures_of([True, False]),
        orders_redeemers=order_figures_of([True]),
        orders_non_redeemers=order_figures_of([False]),
        refunds=sum(row["refunds"] for row in order_days.values()),
        refunded=quantize_money(
            sum((row["refunded"] for row in order_days.values()), Decimal(0)), currency
        ),
        daily=daily,
        top_by_points=_top_members(ranked["points"], names),
        top_by_orders=_top_members(ranked["orders"], names),
    )


def top_members(
    *, merchant: Merchant, start: datetime.date, end: datetime.date, by: str, limit: int = 10
) -> list[TopMember]:
    """The members with the most points earned (``by="points"``) or orders
    (``by="orders"``) in the period, most first; members with none are left out."""
    _check_period(start, end)
    if by not in TOP_BY:
        raise DomainError(f"Rank by one of {', '.join(TOP_BY)}.", field="by")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_TOP:
        raise DomainError(f"limit is between 1 and {MAX_TOP}.", field="limit")
    # Ranked by member id alone, then the few winners' names: grouping by the names
    # would join every member of the period.
    ranked = list(
        ReportMemberDay.objects.filter(merchant=merchant, day__range=(start, end))
        .values("member")
        .annotate(value=Sum(TOP_BY[by]))
        .filter(value__gt=0)
        .order_by("-value", "member")
        .values_list("member", "value")[:limit]
    )
    names = _member_names(merchant, {pk for pk, _ in ranked})
    return list(_top_members([(pk, int(value)) for pk, value in ranked], names))


def days_changed(
    *, merchant: Merchant, since: datetime.datetime
) -> dict[datetime.date, datetime.datetime]:
    """The merchant's local days whose aggregates were recomputed at or after ``since``,
    with when: a figure computed from days up to one of them before then may be out of
    date (one indexed read)."""
    return dict(
        ReportDayStamp.objects.filter(merchant=merchant, recomputed_at__gte=since).values_list(
            "day", "recomputed_at"
        )
    )


@dataclass(frozen=True)
class ProviderDay:
    day: datetime.date
    issued: int
    redeemed: int


def provider_points_by_day(*, start: datetime.date, end: datetime.date) -> list[ProviderDay]:
    """Points issued and redeemed on each day from ``start`` to ``end``, every merchant
    together (each merchant's own local days), from the aggregates: what the ops home's
    money cards and their trends show."""
    moved: dict[tuple[datetime.date, str], int] = defaultdict(int)
    for row in (
        ReportEntryDay.objects.filter(
            day__range=(start, end),
            kind__in=[Kind.EARN, Kind.REDEEM, Kind.REDEMPTION_REFUND],
        )
        .values("day", "kind")
        .annotate(moved=Sum(F("points") + F("pending")))
        .order_by()
    ):
        moved[(row["day"], row["kind"])] = row["moved"]
    return [
        ProviderDay(
            day=day,
            issued=moved[(day, Kind.EARN)],
            redeemed=-moved[(day, Kind.REDEEM)] - moved[(day, Kind.REDEMPTION_REFUND)],
        )
        for day in _days(start, end)
    ]


def provider_liability() -> dict[str, Decimal]:
    """The outstanding liability of every merchant's program (spendable and pending
    points at their point value), summed by the programs' currencies."""
    points = dict(
        ReportEntryDay.objects.values("merchant")
        .annotate(held=Sum(F("points") + F("pending")))
        .order_by()
        .values_list("merchant", "held")
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for program in Program.objects.filter(merchant__in=points.keys(), is_active=True):
        totals[program.currency] += figures.points_money(
            points[program.merchant_id], program.point_value, program.currency
        )
    return dict(totals)
