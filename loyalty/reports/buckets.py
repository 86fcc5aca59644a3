"""The bucket function: recompute the report aggregates of some local days of one merchant
from the source tables.

A bucket is (merchant, local day). Recomputing it deletes its rows from every aggregate
table and inserts them again with ``INSERT ... SELECT ... GROUP BY`` over the sources: a
fixed number of statements whatever the number of rows, the same result however often it
runs, and the only code that writes the aggregates (the incremental job, the nightly
reconcile and the rebuild all call it). Days are given as inclusive ranges; each range
is turned into the UTC instants of its local midnights, so the source tables are read by
their timestamp columns (indexes apply) and grouped by ``TruncDate(..., tzinfo=)``.

What goes in which day:
- ledger entries, and the lot movements they wrote: the entry's ``created_at``;
- lots (points formed, the ``issue`` movement of their cohort): ``earned_at``; a lot's
  cohort is the local month of its ``earned_at``;
- orders: ``placed_at``; refunds: their ``created_at``;
- members: their ``created_at``; tier changes: theirs.
"""

# ruff: noqa: S608 (the SQL joins Django's compiled queries and quoted names; values are parameters)

import datetime
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DateField,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from loyalty.models import (
    LedgerEntry,
    LotMovement,
    Member,
    Order,
    PointLot,
    Refund,
    ReportCohortDay,
    ReportDayStamp,
    ReportEntryDay,
    ReportJoinDay,
    ReportMemberDay,
    ReportOrderDay,
    ReportTierMoveDay,
    TierChange,
)
from loyalty.models.reports import COHORT_ISSUE

Kind = LedgerEntry.Kind
DayRange = tuple[datetime.date, datetime.date]
AGGREGATES = (
    ReportEntryDay,
    ReportCohortDay,
    ReportMemberDay,
    ReportOrderDay,
    ReportJoinDay,
    ReportTierMoveDay,
)
MONEY = DecimalField(max_digits=18, decimal_places=4)


def day_ranges(days: Iterable[datetime.date]) -> list[DayRange]:
    """``days`` as the fewest inclusive ranges of consecutive days, in order."""
    ranges: list[DayRange] = []
    for day in sorted(set(days)):
        if ranges and day - ranges[-1][1] == datetime.timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def local_midnight(day: datetime.date, tz: ZoneInfo) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)


def _during(field: str, ranges: list[DayRange], tz: ZoneInfo) -> Q:
    """``field`` (a timestamp) falls on one of the local days of ``ranges``."""
    condition = Q(pk__in=[])
    for first, last in ranges:
        condition |= Q(
            **{
                f"{field}__gte": local_midnight(first, tz),
                f"{field}__lt": local_midnight(last + datetime.timedelta(days=1), tz),
            }
        )
    return condition


def _on_days(ranges: list[DayRange]) -> Q:
    condition = Q(pk__in=[])
    for first, last in ranges:
        condition |= Q(day__range=(first, last))
    return condition


def _sql(queryset: QuerySet) -> tuple[str, tuple]:
    return queryset.order_by().query.get_compiler(using="default").as_sql()


def _columns(model, names: list[str]) -> str:
    quote = connection.ops.quote_name
    return ", ".join(quote(model._meta.get_field(name).column) for name in names)


def _insert(model, names: list[str], select_sql: str, params: tuple) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({_columns(model, names)}) {select_sql}", params)


def _insert_select(model, names: list[str], queryset: QuerySet) -> None:
    """``INSERT INTO model (names) <queryset>``: the queryset's ``values()`` list its
    columns in the order of ``names`` (Django keeps the order given)."""
    _insert(model, names, *_sql(queryset))


def _union_grouped(
    model, names: list[str], keys: list[str], totals: str, parts: list[QuerySet]
) -> None:
    """Insert the groups (by ``keys``) of the union of ``parts``, whose columns are
    ``names`` in order; ``totals`` is the select list of the other columns."""
    compiled = [_sql(part) for part in parts]
    union = " UNION ALL ".join(sql for sql, _ in compiled)
    params = tuple(param for _, part_params in compiled for param in part_params)
    quote = connection.ops.quote_name
    key_list = ", ".join(quote(key) for key in keys)
    select = f"SELECT {key_list}, {totals} FROM ({union}) AS parts GROUP BY {key_list}"
    _insert(model, names, select, params)


def _flag(condition: Q) -> Max:
    return Max(Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField()))


def recompute(*, merchant_id: int, tz: ZoneInfo, ranges: list[DayRange]) -> None:
    """Delete and recompute every aggregate of the merchant's local days in ``ranges``.
    The caller holds the job's lock and its transaction."""
    if not ranges:
        return
    for model in AGGREGATES:
        model.objects.filter(_on_days(ranges), merchant_id=merchant_id).delete()
    merchant = Value(merchant_id, output_field=IntegerField())

    def day(field: str) -> TruncDate:
        return TruncDate(field, tzinfo=tz)

    entries = LedgerEntry.objects.filter(_during("created_at", ranges, tz), merchant_id=merchant_id)
    _insert_select(
        ReportEntryDay,
        ["merchant", "day", "kind", "source_type", "points", "pending", "entries"],
        entries.annotate(m=merchant, d=day("created_at"))
        .values("m", "d", "kind", "source_type")
        .annotate(p=Sum("points"), q=Sum("pending"), n=Count("id"))
        .values("m", "d", "kind", "source_type", "p", "q", "n"),
    )

    lots = PointLot.objects.filter(_during("earned_at", ranges, tz), merchant_id=merchant_id)
    _insert_select(
        ReportCohortDay,
        ["merchant", "day", "cohort", "movement", "points"],
        lots.annotate(
            m=merchant,
            d=day("earned_at"),
            c=Cast(TruncMonth("earned_at", tzinfo=tz), DateField()),
            k=Value(COHORT_ISSUE),
        )
        .values("m", "d", "c", "k")
        .annotate(p=Sum("points"))
        .values("m", "d", "c", "k", "p"),
    )
    movements = LotMovement.objects.filter(
        _during("entry__created_at", ranges, tz), entry__merchant_id=merchant_id
    )
    _insert_select(
        ReportCohortDay,
        ["merchant", "day", "cohort", "movement", "points"],
        movements.annotate(
            m=merchant,
            d=day("entry__created_at"),
            c=Cast(TruncMonth("lot__earned_at", tzinfo=tz), DateField()),
            k=F("entry__kind"),
        )
        .values("m", "d", "c", "k")
        .annotate(p=Sum("points"))
        .values("m", "d", "c", "k", "p"),
    )

    orders = Order.objects.filter(_during("placed_at", ranges, tz), merchant_id=merchant_id)
    member_day = ["merchant", "day", "member"]
    flags = ["earned", "spent", "redeemed", "ordered"]
    sums = ["points_earned", "orders", "revenue"]
    zero = Value(0, output_field=IntegerField())
    _union_grouped(
        ReportMemberDay,
        member_day + flags + sums,
        ["m", "d", "u"],
        ", ".join(f"MAX({flag}) > 0" for flag in flags)
        + ", SUM(points_earned), SUM(orders), SUM(revenue)",
        [
            entries.filter(kind__in=[Kind.EARN, Kind.REDEEM])
            .annotate(m=merchant, d=day("created_at"), u=F("member_id"))
            .values("m", "d", "u")
            .annotate(
                earned=_flag(Q(kind=Kind.EARN)),
                spent=_flag(Q(kind=Kind.REDEEM)),
                redeemed=_flag(Q(kind=Kind.REDEEM, source_type=LedgerEntry.Source.REDEMPTION)),
                ordered=Max(zero),
                points_earned=Coalesce(
                    Sum(
                        Case(
                            When(kind=Kind.EARN, then=F("points") + F("pending")),
                            default=Value(0),
                            output_field=BigIntegerField(),
                        )
                    ),
                    0,
                ),
                orders=Max(zero),
                revenue=Max(Value(0, output_field=MONEY)),
            )
            .values("m", "d", "u", *flags, *sums),
            orders.annotate(m=merchant, d=day("placed_at"), u=F("member_id"))
            .values("m", "d", "u")
            .annotate(
                earned=Max(zero),
                spent=Max(zero),
                redeemed=Max(zero),
                ordered=Max(Value(1, output_field=IntegerField())),
                points_earned=Max(zero),
                orders=Count("id"),
                revenue=Sum("program_total"),
            )
            .values("m", "d", "u", *flags, *sums),
        ],
    )

    refunds = Refund.objects.filter(_during("created_at", ranges, tz), merchant_id=merchant_id)
    # A refund in the order's currency, in the program's: in the order's own proportion.
    refunded = ExpressionWrapper(
        F("amount") * F("order__program_total") / F("order__total"), output_field=MONEY
    )
    _union_grouped(
        ReportOrderDay,
        ["merchant", "day", "orders", "revenue", "refunds", "refunded"],
        ["m", "d"],
        "SUM(orders), SUM(revenue), SUM(refunds), SUM(refunded)",
        [
            orders.annotate(m=merchant, d=day("placed_at"))
            .values("m", "d")
            .annotate(
                orders=Count("id"),
                revenue=Sum("program_total"),
                refunds=Max(zero),
                refunded=Max(Value(0, output_field=MONEY)),
            )
            .values("m", "d", "orders", "revenue", "refunds", "refunded"),
            refunds.annotate(m=merchant, d=day("created_at"))
            .values("m", "d")
            .annotate(
                orders=Max(zero),
                revenue=Max(Value(0, output_field=MONEY)),
                refunds=Count("id"),
                refunded=Sum(refunded),
            )
            .values("m", "d", "orders", "revenue", "refunds", "refunded"),
        ],
    )

    _insert_select(
        ReportJoinDay,
        ["merchant", "day", "country", "members"],
        Member.objects.filter(_during("created_at", ranges, tz), merchant_id=merchant_id)
        .annotate(m=merchant, d=day("created_at"))
        .values("m", "d", "country")
        .annotate(n=Count("id"))
        .values("m", "d", "country", "n"),
    )
    _insert_select(
        ReportTierMoveDay,
        ["merchant", "day", "from_tier", "to_tier", "moves"],
        TierChange.objects.filter(
            _during("created_at", ranges, tz), member__merchant_id=merchant_id
        )
        .annotate(m=merchant, d=day("created_at"))
        .values("m", "d", "from_tier_id", "to_tier_id")
        .annotate(n=Count("id"))
        .values("m", "d", "from_tier_id", "to_tier_id", "n"),
    )
    _stamp(merchant_id, ranges)


def _stamp(merchant_id: int, ranges: list[DayRange]) -> None:
    """Note when the days were recomputed, for what was computed from them before."""
    now = timezone.now()
    ReportDayStamp.objects.bulk_create(
        [
            ReportDayStamp(
                merchant_id=merchant_id, day=first + datetime.timedelta(days=n), recomputed_at=now
            )
            for first, last in ranges
            for n in range((last - first).days + 1)
        ],
        update_conflicts=True,
        unique_fields=["merchant", "day"],
        update_fields=["recomputed_at"],
        batch_size=1000,
    )
