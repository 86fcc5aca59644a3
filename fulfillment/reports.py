"""A merchant's rewards figures over whole local days, for the merchant portal and its
monthly PDF: redemptions by reward, by reward type and by country, the points spent, the
rewards' value, how long delivery took, and what was refunded.

Which redemptions count: those the members made in the range (``created_at`` within the
merchant's local days, ``merchant.timezone``), whatever became of them. A reissue (care
ordering a dead reward again) is not one: it spends the points the original's spend gave
back, so the member's redemption is counted once, as the original.

- Points spent: the points the counted redemptions took, refunded ones included; the
  refunded ones (refunded after a supplier failure, or cancelled by staff) are counted
  apart, with the points given back (all of them: a refund gives back the whole spend).
- Value: the face value times the quantity, in the program's currency (at the rate the
  price was set with, kept on the redemption) when the reward is in another currency and
  that rate exists; else in the reward's own currency. So a total is a list of amounts,
  one per currency, each rounded half-up to its currency's decimals (``core.money``).
- Fulfillment time: from the redemption to its delivery (``delivered_at``, set with its
  one move to delivered), for the counted redemptions delivered so far; median and 90th
  percentile (``core.percentiles``: the database computes them on PostgreSQL).

Two queries whatever the range: one grouped by reward, country and currency (the rest is
summed from it), one for the times (PostgreSQL; on SQLite it brings the range's delivered
redemptions' two instants to Python). The (merchant, created_at) index serves both.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    When,
)
from django_countries import countries

from catalog.models import RewardType
from core.money import quantize_money
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
from fulfillment.models import Redemption, RedemptionStatus
from merchants.models import Merchant

GIVEN_BACK = (RedemptionStatus.REFUNDED, RedemptionStatus.CANCELLED)
STATUS_FIELD = "status"


@dataclass(frozen=True)
class Amount:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class RewardsRow:
    """One line of a breakdown: ``key`` is the reward's id, the type's value or the
    country's code; ``label`` what a person reads."""

    key: str
    label: str
    redemptions: int
    quantity: int
    points: int
    value: tuple[Amount, ...]


@dataclass(frozen=True)
class RewardsReport:
    start: datetime.date
    end: datetime.date
    redemptions: int
    quantity: int
    points_spent: int
    value: tuple[Amount, ...]
    by_reward: tuple[RewardsRow, ...]
    by_type: tuple[RewardsRow, ...]
    by_country: tuple[RewardsRow, ...]
    fulfillment_time: Durations
    refunded: int
    points_refunded: int

    @property
    def points_kept(self) -> int:
        """Points spent and not given back."""
        return self.points_spent - self.points_refunded


# -- the range ----------------------------------------------------------------------------------


def local_range(
    *, merchant: Merchant, start: datetime.date, end: datetime.date
) -> tuple[datetime.datetime, datetime.datetime]:
    """``[midnight of start, midnight after end)`` in the merchant's time zone."""
    if end < start:
        raise ValueError("The range ends before it starts.")
    zone = merchant.timezone
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    first = datetime.datetime.combine(start, datetime.time.min, tzinfo=zone)
    after = datetime.datetime.combine(
        end + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
    )
    return first, after


def counted(
    *, merchant: Merchant, start: datetime.date, end: datetime.date
) -> QuerySet[Redemption]:
    """The redemptions the report counts: the merchant's, made in its local days
    ``start`` to ``end``, reissues left out."""
    first, after = local_range(merchant=merchant, start=start, end=end)
    return Redemption.objects.using(reports_db()).filter(
        merchant=merchant, created_at__gte=first, created_at__lt=after, reissue_of__isnull=True
    )


# -- value --------------------------------------------------------------------------------------

# Exact on PostgreSQL (numeric). SQLite, the embedded default, computes in binary floats
# and Django reads the sum back as a Decimal of 14 places: off by far less than a cent,
# before the rounding to the currency.
_MONEY = DecimalField(max_digits=38, decimal_places=14)
_FACE_TOTAL = ExpressionWrapper(F("face_value") * F("quantity"), output_field=_MONEY)
_CONVERTED = Q(rate_used__isnull=False) & ~Q(face_currency=F("program_currency"))
_IN_PROGRAM = Q(face_currency=F("program_currency")) | _CONVERTED


def _value_currency() -> Case:
    return Case(
        When(_IN_PROGRAM, then=F("program_currency")),
        default=F("face_currency"),
        output_field=CharField(),
    )


def _value() -> Case:
    return Case(
        When(
            _CONVERTED,
            then=ExpressionWrapper(
                F("face_value") * F("quantity") * F("rate_used"), output_field=_MONEY
            ),
        ),
        default=_FACE_TOTAL,
        output_field=_MONEY,
    )


def _amounts(sums: dict[str, Decimal]) -> tuple[Amount, ...]:
    return tuple(
        Amount(quantize_money(Decimal(total), currency), currency)
        for currency, total in sorted(sums.items())
    )


# -- the report ---------------------------------------------------------------------------------


@dataclass
class _Tally:
    label: str
    redemptions: int = 0
    quantity: int = 0
    points: int = 0

    def __post_init__(self) -> None:
        self.value: dict[str, Decimal] = defaultdict(Decimal)

    def add(self, row: dict) -> None:
        self.redemptions += row["n"]
        self.quantity += row["units"] or 0
        self.points += row["points"] or 0
        self.value[row["value_currency"]] += row["value"] or Decimal(0)

    def row(self, key: str) -> RewardsRow:
        return RewardsRow(
            key=key,
            label=self.label,
            redemptions=self.redemptions,
            quantity=self.quantity,
            points=self.points,
            value=_amounts(self.value),
        )


def _ordered(tallies: dict[str, _Tally]) -> tuple[RewardsRow, ...]:
    rows = [tally.row(key) for key, tally in tallies.items()]
    return tuple(sorted(rows, key=lambda row: (-row.redemptions, -row.points, row.label)))


def rewards_report(
    *, merchant: Merchant, start: datetime.date, end: datetime.date
) -> RewardsReport:
    """The merchant's rewards figures for its local days ``start`` to ``end`` (both
    included); an empty range gives zeros, empty breakdowns and ``None`` times."""
    redemptions = counted(merchant=merchant, start=start, end=end)
    rows = (
        redemptions.annotate(value_currency=_value_currency())
        .values("reward_id", "reward__name", "reward__type", "country", "value_currency")
        .annotate(
            n=Count("id"),
            units=Sum("quantity"),
            points=Sum("points_total"),
            value=Sum(_value()),
            refunded=Count("id", filter=Q(status__in=GIVEN_BACK)),
            points_refunded=Sum("points_total", filter=Q(status__in=GIVEN_BACK)),
        )
        .order_by()
    )
    types = dict(RewardType.choices)
    by_reward: dict[str, _Tally] = {}
    by_type: dict[str, _Tally] = {}
    by_country: dict[str, _Tally] = {}
    overall = _Tally("All")
    refunded = points_refunded = 0
    for row in rows:
        reward, kind, country = str(row["reward_id"]), row["reward__type"], str(row["country"])
        by_reward.setdefault(reward, _Tally(row["reward__name"])).add(row)
        by_type.setdefault(kind, _Tally(str(types.get(kind, kind)))).add(row)
        by_country.setdefault(country, _Tally(_country_name(country))).add(row)
        overall.add(row)
        refunded += row["refunded"]
        points_refunded += row["points_refunded"] or 0
    return RewardsReport(
        start=start,
        end=end,
        redemptions=overall.redemptions,
        quantity=overall.quantity,
        points_spent=overall.points,
        value=_amounts(overall.value),
        by_reward=_ordered(by_reward),
        by_type=_ordered(by_type),
        by_country=_ordered(by_country),
        fulfillment_time=fulfillment_times(redemptions),
        refunded=refunded,
        points_refunded=points_refunded,
    )


def _country_name(code: str) -> str:
    return str(countries.name(code)) or code or "Unknown"


def fulfillment_times(redemptions: QuerySet[Redemption]) -> Durations:
    """From each redemption to its delivery (``delivered_at``: set with the one move to
    delivered, which no status leaves), for those delivered."""
    delivered = redemptions.filter(status=RedemptionStatus.DELIVERED, delivered_at__isnull=False)
    if database_percentiles(delivered.db):
        took = ExpressionWrapper(F("delivered_at") - F("created_at"), output_field=DurationField())
        row = delivered.aggregate(
            n=Count("id"), median=PercentileCont(took, MEDIAN), p90=PercentileCont(took, P90)
        )
        if not row["n"]:
            return Durations()
        return Durations(row["n"], rounded(row["median"]), rounded(row["p90"]))
    return durations_summary(_spans(delivered.values_list("created_at", "delivered_at")))


def _spans(
    pairs: Iterable[tuple[datetime.datetime, datetime.datetime]],
) -> list[datetime.timedelta]:
    return [moment - created for created, moment in pairs]


def days_changed(
    *, merchant: Merchant, since: datetime.datetime
) -> dict[datetime.date, datetime.datetime]:
    """The merchant's local days whose redemptions were made or changed (status,
    delivery, a reissue) at or after ``since``, with the latest change: the rewards
    figures of a range holding one of them, computed before then, may be out of date."""
    zone = merchant.timezone
    return changed_days(
        Redemption.objects.filter(merchant=merchant),
        day_of="created_at",
        changed="updated_at",
        since=since,
        zone=ZoneInfo(zone) if isinstance(zone, str) else zone,
    )
