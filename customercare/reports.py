"""Figures for care operations over a date range: first-response and resolution times
(median and 90th percentile), SLA attainment, the backlog by age, the CSAT average and
the goodwill granted, overall and per merchant or per agent (``care_operations_report``,
the admin's page), and one merchant's figures over its local days (``care_report``, the
merchant portal), both from the same selectors.

Which tickets count: those opened in the range (a cohort), never those merged into
another (their thread is counted with the ticket it went into). CSAT counts the ratings
given in the range, goodwill the points posted to the ledger in it. The backlog is the
unresolved tickets as they stand now, whatever the range.

Times are elapsed time, not business minutes: what the member waited. A ticket's
resolution is its latest move to resolved (from its history, so a reopened and resolved
again ticket counts the second one; one reopened and still open has none). Percentiles
interpolate between the two closest rows, as PostgreSQL's ``percentile_cont`` does; on
PostgreSQL the database computes them, elsewhere Python does over the range's rows
(``core.percentiles``, shared with fulfillment's report). A rating of 4 or 5 counts as
satisfied.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)

from core.percentiles import (
    MEDIAN,
    P90,
    Durations,
    PercentileCont,
    database_percentiles,
    durations_summary,
    rounded,
)
from core.replica import changed_days, reports_db
from core.site_time import site_zone
from customercare.models import (
    UNRESOLVED_STATUSES,
    CSATResponse,
    GoodwillAdjustment,
    GoodwillReason,
    GoodwillStatus,
    Ticket,
    TicketEvent,
    TicketEventField,
    TicketStatus,
)
from merchants.models import Merchant

MAX_DAYS = 366
# A rating that counts as satisfied (4 or 5 of 5: the usual CSAT score's "top two").
SATISFIED = 4
BY_FIELDS = {
    "ticket": {"merchant": "merchant_id", "agent": "assignee_id"},
    "csat": {"merchant": "ticket__merchant_id", "agent": "ticket__assignee_id"},
    "goodwill": {"merchant": "merchant_id", "agent": "requested_by_id"},
}
# Age bands of the backlog: (key, label, at least, under).
AGE_BANDS: tuple[tuple[str, str, datetime.timedelta, datetime.timedelta | None], ...] = (
    ("under_1d", "Under 1 day", datetime.timedelta(0), datetime.timedelta(days=1)),
    ("1d_3d", "1 to 3 days", datetime.timedelta(days=1), datetime.timedelta(days=3)),
    ("3d_7d", "3 to 7 days", datetime.timedelta(days=3), datetime.timedelta(days=7)),
    ("over_7d", "Over 7 days", datetime.timedelta(days=7), None),
)
Key = int | None


# -- values ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """``[start, end)``: whole days in a time zone (the site's for the admin, the
    merchant's for the portal), end exclusive."""

    start: datetime.datetime
    end: datetime.datetime

    @classmethod
    def from_dates(cls, first: datetime.date, last: datetime.date) -> "Period":
        """The admin's range: at most ``MAX_DAYS``, in the site's time zone (whatever zone
        the reader sees times in: everyone's report counts the same days)."""
        if (last - first).days + 1 > MAX_DAYS:
            raise ValueError(f"At most {MAX_DAYS} days.")
        return cls.local_days(first, last, zone=site_zone())

    @classmethod
    def local_days(
        cls, first: datetime.date, last: datetime.date, *, zone: datetime.tzinfo
    ) -> "Period":
        """From midnight of ``first`` to the midnight after ``last``, in ``zone`` (a day
        of a daylight-saving change is 23 or 25 hours long)."""
        if last < first:
            raise ValueError("The range ends before it starts.")
        start = datetime.datetime.combine(first, datetime.time.min, tzinfo=zone)
        end = datetime.datetime.combine(
            last + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
        )
        return cls(start, end)


@dataclass(frozen=True)
class Rate:
    met: int = 0
    counted: int = 0

    @property
    def percent(self) -> Decimal | None:
        if not self.counted:
            return None
        return (Decimal(100 * self.met) / self.counted).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )


@dataclass(frozen=True)
class Csat:
    """Ratings (1 to 5): how many, their sum, and how many were ``SATISFIED`` or more."""

    count: int = 0
    total: int = 0
    satisfied: int = 0

    @property
    def average(self) -> Decimal | None:
        if not self.count:
            return None
        return (Decimal(self.total) / self.count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    @property
    def satisfied_rate(self) -> Rate:
        return Rate(self.satisfied, self.count)


@dataclass
class Figures:
    """One row of the report: everything, one merchant or one agent."""

    key: Key
    label: str
    opened: int = 0
    first_response: Durations = field(default_factory=Durations)
    resolution: Durations = field(default_factory=Durations)
    first_response_sla: Rate = field(default_factory=Rate)
    resolution_sla: Rate = field(default_factory=Rate)
    csat: Csat = field(default_factory=Csat)
    goodwill_points: int = 0
    backlog: int = 0


@dataclass(frozen=True)
class GoodwillRow:
    merchant_id: int
    merchant: str
    reason: str
    reason_label: str
    adjustments: int
    points: int


@dataclass
class BacklogRow:
    key: Key
    label: str
    bands: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.bands.values())


@dataclass
class CareReport:
    period: Period
    now: datetime.datetime
    overall: Figures
    by_merchant: list[Figures]
    by_agent: list[Figures]
    goodwill: list[GoodwillRow]
    backlog_by_merchant: list[BacklogRow]
    backlog_by_agent: list[BacklogRow]
    backlog_overall: BacklogRow


# -- querysets -----------------------------------------------------------------------------


def cohort(*, period: Period, merchant: Merchant | None = None) -> QuerySet[Ticket]:
    """The tickets a range's figures count: opened in it, not merged away."""
    tickets = Ticket.objects.using(reports_db()).filter(
        created_at__gte=period.start, created_at__lt=period.end
    )
    tickets = tickets.exclude(status=TicketStatus.MERGED)
    if merchant is not None:
        tickets = tickets.filter(merchant=merchant)
    return tickets


def _with_resolution(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    latest = TicketEvent.objects.filter(
        ticket=OuterRef("pk"), field=TicketEventField.STATUS, to_value=TicketStatus.RESOLVED
    ).order_by("-created_at", "-id")
    return tickets.annotate(resolved_moment=Subquery(latest.values("created_at")[:1]))


def _group_field(kind: str, by: str | None) -> str | None:
    if by is None:
        return None
    return BY_FIELDS[kind][by]


def _grouped(rows: QuerySet, group: str | None, **aggregates: Any) -> dict[Key, dict]:
    if group is None:
        return {None: rows.aggregate(**aggregates)}
    return {row.pop(group): row for row in rows.values(group).annotate(**aggregates).order_by()}


def _durations(
    tickets: QuerySet[Ticket], start: str, end: str, group: str | None
) -> dict[Key, Durations]:
    tickets = tickets.filter(**{f"{end}__isnull": False})
    if database_percentiles():
        spent = ExpressionWrapper(F(end) - F(start), output_field=DurationField())
        rows = _grouped(
            tickets,
            group,
            n=Count("id"),
            median=PercentileCont(spent, MEDIAN),
            p90=PercentileCont(spent, P90),
        )
        return {
            key: Durations(
                row["n"],
                rounded(row["median"]),
                rounded(row["p90"]),
            )
            for key, row in rows.items()
            if row["n"]
        }
    spans: dict[Key, list[datetime.timedelta]] = defaultdict(list)
    fields = [group] if group else []
    for values in tickets.values_list(*fields, start, end):
        key = values[0] if group else None
        spans[key].append(values[-1] - values[-2])
    return {key: durations_summary(values) for key, values in spans.items()}


# -- one selector per figure -----------------------------------------------------------------


def tickets_opened(
    *, period: Period, merchant: Merchant | None = None, by: str | None = None
) -> dict[Key, int]:
    rows = _grouped(
        cohort(period=period, merchant=merchant), _group_field("ticket", by), n=Count("id")
    )
    return {key: row["n"] for key, row in rows.items()}


def first_response_times(
    *, period: Period, merchant: Merchant | None = None, by: str | None = None
) -> dict[Key, Durations]:
    """From opening to the first public reply."""
    return _durations(
        cohort(period=period, merchant=merchant),
        "created_at",
        "first_responded_at",
        _group_field("ticket", by),
    )


def resolution_times(
    *, period: Period, merchant: Merchant | None = None, by: str | None = None
) -> dict[Key, Durations]:
    """From opening to the latest resolution, for tickets resolved or closed after one."""
    tickets = _with_resolution(cohort(period=period, merchant=merchant)).filter(
        status__in=[TicketStatus.RESOLVED, TicketStatus.CLOSED]
    )
    return _durations(tickets, "created_at", "resolved_moment", _group_field("ticket", by))


def tickets_resolved(
    *, period: Period, merchant: Merchant | None = None, by: str | None = None
) -> dict[Key, int]:
    """Tickets whose latest resolution fell in the range, whenever they were opened (a
    ticket resolved, reopened and still open counts nowhere; merged ones never)."""
    tickets = Ticket.objects.using(reports_db()).filter(
        status__in=[TicketStatus.RESOLVED, TicketStatus.CLOSED]
    )
    if merchant is not None:
        tickets = tickets.filter(merchant=merchant)
    tickets = _with_resolution(tickets).filter(
        resolved_moment__gte=period.start, resolved_moment__lt=period.end
    )
    rows = _grouped(tickets, _group_field("ticket", by), n=Count("id"))
    return {key: row["n"] for key, row in rows.items() if row["n"]}


def sla_attainment(
    *, period: Period, merchant: Merchant | None = None, by: str | None = None
) -> dict[Key, tuple[Rate, Rate]]:
    """(first response, resolution): of the tickets whose target was reached or missed,
    how many met it. A target counts as met when the ticket was never flagged breached
    and the reply or resolution came by its due time."""
    done = Q(status__in=[TicketStatus.RESOLVED, TicketStatus.CLOSED], resolved_moment__isnull=False)
    rows = _grouped(
        _with_resolution(cohort(period=period, merchant=merchant)),
        _group_field("ticket", by),
        fr_counted=Count(
            "id", filter=Q(first_responded_at__isnull=False) | Q(first_response_breached=True)
        ),
        fr_met=Count(
            "id",
            filter=Q(
                first_responded_at__isnull=False,
                first_response_breached=False,
                first_responded_at__lte=F("first_response_due_at"),
            ),
        ),
        res_counted=Count("id", filter=done | Q(resolution_breached=True)),
        res_met=Count(
            "id",
            filter=done & Q(resolution_breached=False, resolved_moment__lte=F("resolution_due_at")),
        ),
    )
    return {
        key: (Rate(row["fr_met"], row["fr_counted"]), Rate(row["res_met"], row["res_counted"]))
        for key, row in rows.items()
    }


def csat_average(
    *, period: Period, merchant: Merchant | None = None, by: str | None = None
) -> dict[Key, Csat]:
    """Ratings given in the range (by the ticket's merchant, or its agent)."""
    ratings = CSATResponse.objects.using(reports_db()).filter(
        created_at__gte=period.start, created_at__lt=period.end
    )
    if merchant is not None:
        ratings = ratings.filter(ticket__merchant=merchant)
    rows = _grouped(
        ratings,
        _group_field("csat", by),
        n=Count("id"),
        total=Sum("score"),
        satisfied=Count("id", filter=Q(score__gte=SATISFIED)),
    )
    return {
        key: Csat(row["n"], row["total"] or 0, row["satisfied"])
        for key, row in rows.items()
        if row["n"]
    }


def _goodwill_posted(period: Period, merchant: Merchant | None) -> QuerySet[GoodwillAdjustment]:
    rows = GoodwillAdjustment.objects.using(reports_db()).filter(
        status=GoodwillStatus.POSTED,
        ledger_entry__created_at__gte=period.start,
        ledger_entry__created_at__lt=period.end,
    )
    return rows if merchant is None else rows.filter(merchant=merchant)


def goodwill_points(
    *, period: Period, merchant: Merchant | None = None, by: str | None = None
) -> dict[Key, int]:
    """Points posted as goodwill in the range (per agent: by who requested them)."""
    rows = _grouped(
        _goodwill_posted(period, merchant), _group_field("goodwill", by), points=Sum("points")
    )
    return {key: row["points"] or 0 for key, row in rows.items()}


def goodwill_granted(*, period: Period, merchant: Merchant | None = None) -> list[GoodwillRow]:
    """Goodwill posted in the range by merchant and reason code."""
    rows = (
        _goodwill_posted(period, merchant)
        .values("merchant_id", "merchant__name", "reason")
        .annotate(n=Count("id"), points=Sum("points"))
        .order_by("merchant__name", "merchant_id", "reason")
    )
    labels = dict(GoodwillReason.choices)
    return [
        GoodwillRow(
            merchant_id=row["merchant_id"],
            merchant=row["merchant__name"],
            reason=row["reason"],
            reason_label=labels.get(row["reason"], row["reason"]),
            adjustments=row["n"],
            points=row["points"] or 0,
        )
        for row in rows
    ]


def backlog_by_age(
    *, now: datetime.datetime, merchant: Merchant | None = None, by: str | None = None
) -> dict[Key, dict[str, int]]:
    """Unresolved tickets now, counted per age band."""
    tickets = Ticket.objects.using(reports_db()).filter(status__in=UNRESOLVED_STATUSES)
    if merchant is not None:
        tickets = tickets.filter(merchant=merchant)
    bands = {}
    for index, (key, _, at_least, under) in enumerate(AGE_BANDS):
        # The first band has no lower bound: a ticket dated in the future counts as new.
        window = Q() if index == 0 else Q(created_at__lte=now - at_least)
        if under is not None:
            window &= Q(created_at__gt=now - under)
        bands[key] = Count("id", filter=window)
    rows = _grouped(tickets, _group_field("ticket", by), **bands)
    return {
        key: {band: row[band] for band, *_ in AGE_BANDS}
        for key, row in rows.items()
        if any(row[band] for band, *_ in AGE_BANDS)
    }


# -- the whole report --------------------------------------------------------------------------


def _labels(by: str, keys: Iterable[Key]) -> dict[Key, str]:
    ids = [key for key in keys if key is not None]
    if by == "merchant":
        names = dict(Merchant.objects.filter(pk__in=ids).values_list("pk", "name"))
        none = "No merchant"
    else:
        user_model = get_user_model()
        names = dict(
            user_model.objects.filter(pk__in=ids).values_list("pk", user_model.USERNAME_FIELD)
        )
        none = "Unassigned"
    return {key: (names.get(key, f"#{key}") if key is not None else none) for key in keys}


def _figures(
    period: Period, now: datetime.datetime, merchant: Merchant | None, by: str | None
) -> tuple[dict[Key, Figures], dict[Key, dict[str, int]]]:
    opened = tickets_opened(period=period, merchant=merchant, by=by)
    first = first_response_times(period=period, merchant=merchant, by=by)
    resolution = resolution_times(period=period, merchant=merchant, by=by)
    sla = sla_attainment(period=period, merchant=merchant, by=by)
    csat = csat_average(period=period, merchant=merchant, by=by)
    goodwill = goodwill_points(period=period, merchant=merchant, by=by)
    backlog = backlog_by_age(now=now, merchant=merchant, by=by)
    keys = set(opened) | set(first) | set(resolution) | set(csat) | set(goodwill) | set(backlog)
    if by is None:
        keys = {None}
    rows = {}
    for key in keys:
        rates = sla.get(key, (Rate(), Rate()))
        rows[key] = Figures(
            key=key,
            label="All",
            opened=opened.get(key, 0),
            first_response=first.get(key, Durations()),
            resolution=resolution.get(key, Durations()),
            first_response_sla=rates[0],
            resolution_sla=rates[1],
            csat=csat.get(key, Csat()),
            goodwill_points=goodwill.get(key, 0),
            backlog=sum(backlog.get(key, {}).values()),
        )
    return rows, backlog


def _backlog_rows(backlog: dict[Key, dict[str, int]], labels: dict[Key, str]) -> list[BacklogRow]:
    rows = [BacklogRow(key, labels[key], counts) for key, counts in backlog.items()]
    return sorted(rows, key=lambda row: (row.key is None, row.label.lower()))


def care_operations_report(
    *, period: Period, now: datetime.datetime, merchant: Merchant | None = None
) -> CareReport:
    """Every figure for the range, overall, per merchant and per agent (the admin's care
    reports page)."""
    overall, overall_backlog = _figures(period, now, merchant, None)
    sections = {}
    for by in ("merchant", "agent"):
        rows, backlog = _figures(period, now, merchant, by)
        labels = _labels(by, set(rows) | set(backlog))
        for key, row in rows.items():
            row.label = labels[key]
        ordered = sorted(rows.values(), key=lambda row: (row.key is None, row.label.lower()))
        sections[by] = (ordered, _backlog_rows(backlog, labels))
    empty = {band: 0 for band, *_ in AGE_BANDS}
    return CareReport(
        period=period,
        now=now,
        overall=overall[None],
        by_merchant=sections["merchant"][0],
        by_agent=sections["agent"][0],
        goodwill=goodwill_granted(period=period, merchant=merchant),
        backlog_by_merchant=sections["merchant"][1],
        backlog_by_agent=sections["agent"][1],
        backlog_overall=BacklogRow(None, "All", overall_backlog.get(None, empty)),
    )


# -- one merchant's figures, for the merchant portal ---------------------------------------------


@dataclass(frozen=True)
class MerchantCareReport:
    """A merchant's care over whole local days (``start`` to ``end``, both included),
    with the same definitions as the admin's report: opened and the times of the tickets
    opened in the range; resolved, the tickets whose resolution fell in it; CSAT, the
    ratings given in it."""

    start: datetime.date
    end: datetime.date
    opened: int
    resolved: int
    first_response: Durations
    resolution: Durations
    csat: Csat

    @property
    def csat_average(self) -> Decimal | None:
        return self.csat.average

    @property
    def satisfied_percent(self) -> Decimal | None:
        """The share of ratings of 4 or 5, in percent with one decimal."""
        return self.csat.satisfied_rate.percent


def _zone(merchant: Merchant) -> datetime.tzinfo:
    zone = merchant.timezone
    return ZoneInfo(zone) if isinstance(zone, str) else zone


def care_report(
    *, merchant: Merchant, start: datetime.date, end: datetime.date
) -> MerchantCareReport:
    """The merchant's care figures for its local days ``start`` to ``end`` (its
    ``timezone``); empty days give zeros and ``None`` times. Five queries."""
    period = Period.local_days(start, end, zone=_zone(merchant))
    return MerchantCareReport(
        start=start,
        end=end,
        opened=tickets_opened(period=period, merchant=merchant).get(None, 0),
        resolved=tickets_resolved(period=period, merchant=merchant).get(None, 0),
        first_response=first_response_times(period=period, merchant=merchant).get(
            None, Durations()
        ),
        resolution=resolution_times(period=period, merchant=merchant).get(None, Durations()),
        csat=csat_average(period=period, merchant=merchant).get(None, Csat()),
    )


# A span of a merchant's local days (first, last) a change touched, and when it was made.
Span = tuple[datetime.date, datetime.date, datetime.datetime]


def changes_since(*, merchant: Merchant, since: datetime.datetime) -> list[Span]:
    """The local days whose care figures (``care_report``) tickets and ratings made or
    changed at or after ``since`` may have moved: a ticket's from the day it was opened
    to the day of its change (it counts in its opening day's cohort, and a resolution or
    a reopening moves the day it counts as resolved, which falls between), a rating's on
    its day. Two indexed reads, grouped by day."""
    zone = _zone(merchant)
    tickets = changed_days(
        Ticket.objects.filter(merchant=merchant),
        day_of="created_at",
        changed="updated_at",
        since=since,
        zone=zone,
    )
    ratings = changed_days(
        CSATResponse.objects.filter(ticket__merchant=merchant),
        day_of="created_at",
        changed="created_at",
        since=since,
        zone=zone,
    )
    return [(day, latest.astimezone(zone).date(), latest) for day, latest in tickets.items()] + [
        (day, day, latest) for day, latest in ratings.items()
    ]
