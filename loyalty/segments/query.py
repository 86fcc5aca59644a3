"""A segment's definition as one query over the merchant's members.

Every condition becomes a ``Q`` on the member row: a column comparison, or membership of
a set of members computed inside the same statement (``member_id IN (SELECT ... GROUP BY
member_id HAVING ...)``), which PostgreSQL runs as one hashed semi-join rather than a
probe per member. A count or sum compared with a bound is true for members with no rows
at all exactly when it is true of 0: then the condition is written as "not among the
members whose total fails", so they are counted without a per-member subquery.

Times are the merchant's: a window's days and "today" are local days in its time zone,
turned into UTC instants once here (so daylight-saving changes move the instants, not the
days). Only active members are ever in a segment.
"""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.db.models import (
    Avg,
    BooleanField,
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.lookups import GreaterThanOrEqual, LessThan

from loyalty.models import (
    Activity,
    ActivityKind,
    LedgerEntry,
    Member,
    MemberScore,
    MemberStatus,
    Order,
    OrderLine,
    SegmentMembership,
)
from loyalty.reports.buckets import local_midnight
from loyalty.segments.definition import Condition, Definition, Window
from merchants.models import Merchant

NET_TOTAL = ExpressionWrapper(
    Case(
        When(total=0, then=Value(Decimal(0))),
        default=F("program_total") * (F("total") - F("refunded_total")) / F("total"),
    ),
    output_field=DecimalField(max_digits=20, decimal_places=6),
)


@dataclass(frozen=True)
class Clock:
    """ "Now" for one evaluation, and the merchant's calendar around it."""

    now: datetime.datetime
    tz: ZoneInfo

    @property
    def today(self) -> datetime.date:
        return self.now.astimezone(self.tz).date()

    def day_start(self, day: datetime.date) -> datetime.datetime:
        return local_midnight(day, self.tz)

    def days_ago_start(self, days: int) -> datetime.datetime:
        """The start of the local day ``days`` before today."""
        return self.day_start(self.today - datetime.timedelta(days=days))

    def window(
        self, window: Window | None
    ) -> tuple[datetime.datetime | None, datetime.datetime | None]:
        """[start, end) of a window in UTC; (None, None) for "ever"."""
        if window is None:
            return None, None
        if window.last_days is not None:
            return self.days_ago_start(window.last_days - 1), None
        return self.day_start(window.start), self.day_start(window.end + datetime.timedelta(days=1))


def _in_window(field: str, bounds: tuple[datetime.datetime | None, datetime.datetime | None]) -> Q:
    start, end = bounds
    condition = Q()
    if start is not None:
        condition &= Q(**{f"{field}__gte": start})
    if end is not None:
        condition &= Q(**{f"{field}__lt": end})
    return condition


def _holds(op: str, value: Any, number: Any) -> bool:
    """Whether ``number`` satisfies ``op value`` (for the members with no rows: 0)."""
    if op == "eq":
        return number == value
    if op == "gte":
        return number >= value
    if op == "lte":
        return number <= value
    low, high = value
    return low <= number <= high


def _compare(name: str, op: str, value: Any) -> Q:
    if op == "eq":
        return Q(**{name: value})
    if op == "gte":
        return Q(**{f"{name}__gte": value})
    if op == "lte":
        return Q(**{f"{name}__lte": value})
    low, high = value
    return Q(**{f"{name}__gte": low, f"{name}__lte": high})


def _per_member(rows: QuerySet, member: str, total: Any, op: str, value: Any, zero: Any) -> Q:
    """Members whose ``total`` over their ``rows`` satisfies ``op value``; members with no
    rows count as ``zero`` (None: they never match)."""
    # Correlated per member (``EXISTS``), not ``pk IN (all members' totals)``: PostgreSQL
    # then never builds every member's total to probe it, which under OR or NOT is a
    # sub-plan it hashes only while the ids fit in memory.
    grouped = rows.filter(**{member: OuterRef("pk")}).order_by().values(member).annotate(v=total)
    test = _compare("v", op, value)
    if zero is not None and _holds(op, value, zero):
        return ~Q(Exists(grouped.exclude(test)))
    return Q(Exists(grouped.filter(test)))


def _day_bounds(
    op: str, value: Any, today: datetime.date
) -> tuple[datetime.date | None, datetime.date | None]:
    """[first day, day after the last) that a date condition accepts; None: unbounded."""
    day = datetime.timedelta(days=1)
    if op == "before":
        return None, value
    if op == "after":
        return value + day, None
    if op == "between":
        return value[0], value[1] + day
    # Today and the value-1 days before it; its complement: value or more days ago.
    since = today - datetime.timedelta(days=value - 1)
    if op == "within_last_days":
        return since, None
    return None, since


def _date_range(field: str, op: str, value: Any, clock: Clock, *, timestamp: bool) -> Q:
    """A date or timestamp column against a date condition, by the merchant's days."""
    low, high = _day_bounds(op, value, clock.today)
    condition = Q()
    if low is not None:
        condition &= Q(**{f"{field}__gte": clock.day_start(low) if timestamp else low})
    if high is not None:
        condition &= Q(**{f"{field}__lt": clock.day_start(high) if timestamp else high})
    return condition


class _IdList(Func):
    """The ids of a subquery's rows as one text, comma-separated, in no given order."""

    output_field = CharField()
    contains_aggregate = True

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = compiler.compile(self.source_expressions[0])
        return f"string_agg(({column})::text, ',')", params

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = compiler.compile(self.source_expressions[0])
        return f"group_concat({column}, ',')", params


def current_segment_ids() -> Subquery:
    """For ``OuterRef("pk")`` a member: the segments they are in now, as "3,17" (null when
    none); ``segment_ids_parse`` reads it."""
    stays = (
        SegmentMembership.objects.filter(member=OuterRef("pk"), left_at__isnull=True)
        .order_by()
        .values("member")
        .annotate(ids=_IdList(F("segment_id")))
        .values("ids")
    )
    return Subquery(stays, output_field=CharField())


def segment_ids_parse(text: str | None) -> frozenset[int]:
    return frozenset(int(part) for part in text.split(",")) if text else frozenset()


class _JSONType(Func):
    """The JSON type of one key of the member's attributes, as PostgreSQL names it."""

    output_field = BooleanField()

    def __init__(self, name: str, types: tuple[str, ...]):
        self.name = name
        self.types = types
        super().__init__(F("attributes"))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = compiler.compile(self.source_expressions[0])
        marks = ", ".join(["%s"] * len(self.types))
        return f"jsonb_typeof({column} -> %s) IN ({marks})", [*params, self.name, *self.types]

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = compiler.compile(self.source_expressions[0])
        sqlite = {"number": ("integer", "real"), "string": ("text",), "boolean": ("true", "false")}
        names = [n for t in self.types for n in sqlite[t]]
        marks = ", ".join(["%s"] * len(names))
        return f"json_type({column}, %s) IN ({marks})", [*params, f'$."{self.name}"', *names]


def _json_number(value: Decimal) -> int | float:
    # Only to compare with numbers the store sent as JSON: never points or money.
    return int(value) if value == value.to_integral_value() else float(value)


def _attribute(condition: Condition, clock: Clock, types: Mapping[str, str]) -> Q:
    name, op, value = condition.attribute, condition.op, condition.value
    if op == "is_set":
        has = Q(attributes__has_key=name)
        return has if value else ~has
    # Only members who have the attribute can match, so that a negated condition is the
    # exact opposite (a missing key would compare as unknown, not as false).
    return Q(attributes__has_key=name) & _attribute_value(condition, clock, types[name])


def _attribute_value(condition: Condition, clock: Clock, kind: str) -> Q:
    name, op, value = condition.attribute, condition.op, condition.value
    key = f"attributes__{name}"
    if kind == "number":
        typed = Q(_JSONType(name, ("number",)))
        if op == "between":
            value = (_json_number(value[0]), _json_number(value[1]))
        else:
            value = _json_number(value)
        return typed & _compare(key, op, value)
    if kind == "date":
        # Stored as ISO text, which sorts as the dates do.
        low, high = _day_bounds(op, value, clock.today)
        condition = Q(_JSONType(name, ("string",)))
        if low is not None:
            condition &= Q(GreaterThanOrEqual(KT(key), Value(low.isoformat())))
        if high is not None:
            condition &= Q(LessThan(KT(key), Value(high.isoformat())))
        return condition
    if kind == "boolean":
        return Q(**{key: value})
    if kind == "choice":
        return Q(**{f"{key}__in": list(value)})
    if op == "eq":
        return Q(**{key: value})
    if op == "contains":
        return Q(**{f"{key}__icontains": value})
    return Q(**{f"{key}__istartswith": value})


def _age(op: str, value: Any, clock: Clock) -> Q:
    """Age in whole years today, from the birthday (born on 29 February: a year older on
    1 March in other years)."""
    today = clock.today

    def born_by(years: int) -> datetime.date:
        # Who was born on or before this day is at least ``years`` old today.
        return today - relativedelta(years=years)

    def younger_than(years: int) -> Q:
        return Q(birthday__gt=born_by(years))

    if op == "gte":
        return Q(birthday__lte=born_by(value))
    if op == "lte":
        return younger_than(value + 1)
    if op == "eq":
        return Q(birthday__lte=born_by(value)) & younger_than(value + 1)
    low, high = value
    return Q(birthday__lte=born_by(low)) & younger_than(high + 1)


def _orders(merchant: Merchant, clock: Clock, condition: Condition) -> QuerySet:
    return Order.objects.filter(
        _in_window("placed_at", clock.window(condition.window)), merchant=merchant
    )


def _activities(
    merchant: Merchant, clock: Clock, condition: Condition, kinds: tuple[str, ...]
) -> QuerySet:
    known = [k for k in kinds if k in ActivityKind.values and k != ActivityKind.CUSTOM]
    custom = [k for k in kinds if k not in known]
    return Activity.objects.filter(
        Q(kind__in=known) | Q(kind=ActivityKind.CUSTOM, custom_kind__in=custom),
        _in_window("occurred_at", clock.window(condition.window)),
        merchant=merchant,
    )


def _last_order(merchant: Merchant, clock: Clock, op: str, value: Any) -> Q:
    """Days since the last order, by the merchant's days (an order today: 0). Members who
    never ordered have no such number and never match (negate to find them)."""

    def since(days: int) -> datetime.datetime:
        # Last order on or after this instant: at most ``days`` days ago.
        return clock.days_ago_start(days)

    orders = Order.objects.filter(merchant=merchant, member=OuterRef("pk"))

    def ordered_since(days: int) -> Q:
        return Q(Exists(orders.filter(placed_at__gte=since(days))))

    def none_since(days: int) -> Q:
        # The last order is before ``since(days)``: none on or after it (an order today
        # is 0 days ago, so "at least 0" needs only an order).
        return ~ordered_since(days) if days >= 0 else Q()

    if op == "gte":
        return Q(Exists(orders)) & none_since(value - 1)
    if op == "lte":
        return ordered_since(value)
    if op == "eq":
        return ordered_since(value) & none_since(value - 1)
    low, high = value
    return ordered_since(high) & none_since(low - 1)


def _redemptions(merchant: Merchant, clock: Clock, condition: Condition) -> QuerySet:
    """Spends on rewards in the window that were not given back (a failed redemption)."""
    given_back = LedgerEntry.objects.filter(reverses=OuterRef("pk"))
    return LedgerEntry.objects.filter(
        _in_window("created_at", clock.window(condition.window)),
        merchant=merchant,
        kind=LedgerEntry.Kind.REDEEM,
    ).exclude(Exists(given_back))


def condition_q(
    merchant: Merchant, condition: Condition, clock: Clock, attribute_types: Mapping[str, str]
) -> Q:
    """One condition (its ``negate`` applied) as a ``Q`` on ``Member``."""
    q = _condition(merchant, condition, clock, attribute_types)
    return ~q if condition.negate else q


def _condition(
    merchant: Merchant, c: Condition, clock: Clock, attribute_types: Mapping[str, str]
) -> Q:
    op, value = c.op, c.value
    match c.field:
        case "country":
            return Q(country__in=list(value))
        case "locale":
            if op == "in":
                return Q(locale__in=list(value))
            q = Q(pk__in=[])
            for prefix in value:
                q |= Q(locale__istartswith=prefix)
            return q
        case "age":
            return _age(op, value, clock)
        case "marketing_consent":
            return Q(marketing_consent=value)
        case "member_since":
            return _date_range("created_at", op, value, clock, timestamp=True)
        case "tier":
            return Q(tier__isnull=True) if op == "none" else Q(tier_id__in=list(value))
        case "points_balance" | "lifetime_points":
            return _compare(c.field, op, value)
        case "orders_count":
            return _per_member(_orders(merchant, clock, c), "member_id", Count("pk"), op, value, 0)
        case "spend":
            return _per_member(
                _orders(merchant, clock, c), "member_id", Sum(NET_TOTAL), op, value, Decimal(0)
            )
        case "average_order_value":
            return _per_member(
                _orders(merchant, clock, c), "member_id", Avg(NET_TOTAL), op, value, None
            )
        case "days_since_last_order":
            return _last_order(merchant, clock, op, value)
        case "bought":
            lines = OrderLine.objects.filter(
                Q(sku__in=list(value)) | Q(category__in=list(c.categories)),
                _in_window("order__placed_at", clock.window(c.window)),
                order__merchant=merchant,
            )
            return Q(Exists(lines.filter(order__member_id=OuterRef("pk"))))
        case "activities":
            rows = _activities(merchant, clock, c, c.kinds)
            return _per_member(rows, "member_id", Count("pk"), op, value, 0)
        case "referrals":
            rows = _activities(merchant, clock, c, (ActivityKind.REFERRAL,))
            return _per_member(rows, "member_id", Count("pk"), op, value, 0)
        case "redemptions":
            return _per_member(
                _redemptions(merchant, clock, c), "member_id", Count("pk"), op, value, 0
            )
        case "rfm_recency" | "rfm_frequency" | "rfm_monetary":
            scores = MemberScore.objects.filter(merchant=merchant).filter(
                _compare(c.field.removeprefix("rfm_"), op, value)
            )
            return Q(Exists(scores.filter(member_id=OuterRef("pk"))))
        case "segment":
            stays = SegmentMembership.objects.filter(
                segment_id__in=list(value), left_at__isnull=True
            )
            return Q(Exists(stays.filter(member_id=OuterRef("pk"))))
        case "attribute":
            return _attribute(c, clock, attribute_types)
    raise ValueError(f"unknown field {c.field}")


def definition_q(
    merchant: Merchant, definition: Definition, clock: Clock, attribute_types: Mapping[str, str]
) -> Q:
    """The whole definition: groups AND'ed, the conditions of a group OR'ed."""
    q = Q()
    for group in definition.groups:
        any_of = Q(pk__in=[])
        for condition in group:
            any_of |= condition_q(merchant, condition, clock, attribute_types)
        q &= any_of
    return q


def segment_members(
    *,
    merchant: Merchant,
    definition: Definition,
    now: datetime.datetime,
    attribute_types: Mapping[str, str],
) -> QuerySet[Member]:
    """The merchant's active members the definition matches at ``now``: one query."""
    clock = Clock(now=now, tz=merchant.timezone)
    return Member.objects.filter(
        definition_q(merchant, definition, clock, attribute_types),
        merchant=merchant,
        status=MemberStatus.ACTIVE,
    )
