"""Keeping the report aggregates current: the incremental job, the nightly reconcile and
the rebuild. All three recompute whole buckets with ``loyalty.reports.buckets.recompute``.

The incremental job reads each source table past its id watermark (``ReportWatermark``),
collects the (merchant, local day) buckets the new rows touch, recomputes them, and
advances the watermarks, in one transaction: a crash rolls all of it back and the next run
repeats it, and running it twice changes nothing.

- **One worker at a time.** A run locks every watermark row (PostgreSQL: ``SKIP LOCKED``;
  a run that cannot have them all leaves at once, another is at work). The reconcile and
  the rebuild wait for the same lock. On SQLite the database takes one writer anyway.
- **Rows that commit late.** Ids are taken when a row is inserted, not when it commits:
  a row may appear below the highest id already visible. A run reads only up to the
  highest id it *saw* on an earlier run at least ``REPORT_AGGREGATES_SETTLE_SECONDS``
  (default 60) ago, so a transaction has that long to commit; the nightly reconcile
  recomputes every merchant's last two local days from scratch for any that took longer.
- **As of.** ``covered_at`` is when the ids read up to were seen: every row committed
  before then is in the figures (``aggregates_as_of``).
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateField, Max, Min, Model
from django.db.models.functions import TruncDate
from django.utils import timezone

from loyalty.models import (
    LedgerEntry,
    LotMovement,
    Member,
    Order,
    PointLot,
    Refund,
    ReportWatermark,
    TierChange,
)
from loyalty.reports import buckets
from merchants.models import Merchant

DEFAULT_SETTLE_SECONDS = 60
DEFAULT_BATCH = 50_000
RECONCILE_DAYS = 2


@dataclass(frozen=True)
class Source:
    """A table the aggregates are made of: its rows' merchant and the time that buckets them."""

    name: str
    model: type[Model]
    merchant: str
    at: str


SOURCES = (
    Source("ledger_entries", LedgerEntry, "merchant_id", "created_at"),
    Source("lot_movements", LotMovement, "entry__merchant_id", "entry__created_at"),
    Source("lots", PointLot, "merchant_id", "earned_at"),
    Source("orders", Order, "merchant_id", "placed_at"),
    Source("refunds", Refund, "merchant_id", "created_at"),
    Source("members", Member, "merchant_id", "created_at"),
    Source("tier_changes", TierChange, "member__merchant_id", "created_at"),
)


@dataclass
class RunResult:
    ran: bool = True
    rows: int = 0
    buckets: int = 0
    merchants: set[int] = field(default_factory=set)

    def __str__(self) -> str:
        if not self.ran:
            return "skipped: another run holds the watermarks"
        return (
            f"{self.rows} new row id(s), {self.buckets} bucket(s) recomputed, "
            f"{len(self.merchants)} merchant(s)"
        )


def settle_delay() -> datetime.timedelta:
    return datetime.timedelta(
        seconds=getattr(settings, "REPORT_AGGREGATES_SETTLE_SECONDS", DEFAULT_SETTLE_SECONDS)
    )


def _watermarks_lock(*, wait: bool) -> dict[str, ReportWatermark] | None:
    """Every source's watermark row, locked in primary-key order; None when another
    transaction holds one of them and ``wait`` is false."""
    ReportWatermark.objects.bulk_create(
        [ReportWatermark(source=source.name) for source in SOURCES], ignore_conflicts=True
    )
    rows = ReportWatermark.objects.filter(source__in=[s.name for s in SOURCES]).order_by("pk")
    if not wait and connection.features.has_select_for_update_skip_locked:
        locked = list(rows.select_for_update(skip_locked=True))
        if len(locked) < len(SOURCES):
            return None
    else:
        locked = list(rows.select_for_update())
    return {row.source: row for row in locked}


def _timezones(merchant_ids: set[int]) -> dict[int, ZoneInfo]:
    return {
        pk: ZoneInfo(str(tz))
        for pk, tz in Merchant.objects.filter(pk__in=merchant_ids).values_list("pk", "timezone")
    }


def _touched(
    source: Source, low: int, high: int, zones: dict[int, ZoneInfo] | None = None
) -> dict[int, set[datetime.date]]:
    """The local days, by merchant, of ``source``'s rows with ids in (low, high]: one
    query for the merchants, one per time zone among them."""
    rows = source.model.objects.filter(pk__gt=low, pk__lte=high)
    merchant_ids = set(rows.values_list(source.merchant, flat=True).distinct().order_by())
    if not merchant_ids:
        return {}
    zones = zones if zones is not None else _timezones(merchant_ids)
    by_zone: dict[ZoneInfo, list[int]] = defaultdict(list)
    for merchant_id in merchant_ids:
        by_zone[zones[merchant_id]].append(merchant_id)
    days: dict[int, set[datetime.date]] = defaultdict(set)
    for tz, ids in by_zone.items():
        pairs = (
            rows.filter(**{f"{source.merchant}__in": ids})
            .annotate(local_day=TruncDate(source.at, tzinfo=tz, output_field=DateField()))
            .values_list(source.merchant, "local_day")
            .distinct()
            .order_by()
        )
        for merchant_id, day in pairs:
            days[merchant_id].add(day)
    return days


def _recompute_days(days: dict[int, set[datetime.date]], zones: dict[int, ZoneInfo]) -> int:
    count = 0
    for merchant_id in sorted(days):
        ranges = buckets.day_ranges(days[merchant_id])
        buckets.recompute(merchant_id=merchant_id, tz=zones[merchant_id], ranges=ranges)
        count += len(days[merchant_id])
    return count


def _upper(mark: ReportWatermark, newest: int, now: datetime.datetime, batch_size: int) -> int:
    """How far this run reads a source: up to the ids seen a settle delay ago."""
    delay = settle_delay()
    if not delay:
        seen = newest
    elif mark.seen_at is not None and mark.seen_at <= now - delay:
        seen = mark.seen_id
    else:
        seen = mark.last_id
    return max(mark.last_id, min(seen, mark.last_id + batch_size))


def aggregates_update(
    *,
    now: datetime.datetime,
    batch_size: int = DEFAULT_BATCH,
    merchant_id: int | None = None,
) -> RunResult:
    """The incremental job (every minute). ``batch_size`` bounds the ids read per source
    and run; a backlog drains over the next runs. ``merchant_id`` is refused: the
    watermarks are every merchant's (recompute one merchant with the rebuild)."""
    if merchant_id is not None:
        raise ValueError("The incremental job runs for every merchant at once.")
    result = RunResult()
    with transaction.atomic():
        marks = _watermarks_lock(wait=False)
        if marks is None:
            return RunResult(ran=False)
        newest = _newest_ids()
        uppers = {
            source.name: _upper(marks[source.name], newest[source.name], now, batch_size)
            for source in SOURCES
        }
        touched: dict[int, set[datetime.date]] = defaultdict(set)
        for source in SOURCES:
            mark = marks[source.name]
            if uppers[source.name] <= mark.last_id:
                continue
            result.rows += uppers[source.name] - mark.last_id
            for merchant, days in _touched(source, mark.last_id, uppers[source.name]).items():
                touched[merchant] |= days
        zones = _timezones(set(touched))
        result.buckets = _recompute_days(touched, zones)
        result.merchants = set(touched)
        finished = timezone.now()
        delay = settle_delay()
        for source in SOURCES:
            mark = marks[source.name]
            upper = uppers[source.name]
            # The figures hold every row committed before the ids read up to were seen.
            if not delay:
                if upper >= newest[source.name]:
                    mark.covered_at = now
            elif mark.seen_at is not None and upper >= mark.seen_id:
                mark.covered_at = mark.seen_at
            if mark.seen_at is None or upper >= mark.seen_id:
                mark.seen_id, mark.seen_at = newest[source.name], now
            mark.last_id = upper
            mark.finished_at = finished
        ReportWatermark.objects.bulk_update(
            marks.values(), ["last_id", "seen_id", "seen_at", "covered_at", "finished_at"]
        )
    return result


def aggregates_as_of() -> datetime.datetime | None:
    """Every row committed before this instant is in the aggregates (None: never run)."""
    covered = list(
        ReportWatermark.objects.filter(source__in=[s.name for s in SOURCES]).values_list(
            "covered_at", flat=True
        )
    )
    if len(covered) < len(SOURCES) or None in covered:
        return None
    return min(covered)


def _merchants(merchant_id: int | None):
    merchants = Merchant.objects.order_by("pk")
    if merchant_id is not None:
        merchants = merchants.filter(pk=merchant_id)
    return merchants.values_list("pk", "timezone")


def aggregates_reconcile(
    *,
    now: datetime.datetime,
    batch_size: int = DEFAULT_BATCH,
    merchant_id: int | None = None,
) -> RunResult:
    """Nightly: recompute every merchant's last two local days (today and yesterday, as of
    ``now``) from scratch, whatever the watermarks say. ``batch_size`` merchants a
    transaction."""
    result = RunResult()
    rows = list(_merchants(merchant_id))
    for start in range(0, len(rows), batch_size):
        with transaction.atomic():
            _watermarks_lock(wait=True)
            for pk, tz_name in rows[start : start + batch_size]:
                tz = ZoneInfo(str(tz_name))
                today = now.astimezone(tz).date()
                first = today - datetime.timedelta(days=RECONCILE_DAYS - 1)
                buckets.recompute(merchant_id=pk, tz=tz, ranges=[(first, today)])
                result.buckets += RECONCILE_DAYS
                result.merchants.add(pk)
    return result


def _span(source: Source, merchant_id: int, tz: ZoneInfo) -> tuple | None:
    rows = source.model.objects.filter(**{source.merchant: merchant_id})
    bounds = rows.aggregate(first=Min(source.at), last=Max(source.at))
    if bounds["first"] is None:
        return None
    return bounds["first"].astimezone(tz).date(), bounds["last"].astimezone(tz).date()


def _newest_ids() -> dict[str, int]:
    return {
        source.name: source.model.objects.aggregate(top=Max("pk"))["top"] or 0 for source in SOURCES
    }


def aggregates_rebuild(*, merchant_id: int | None = None) -> RunResult:
    """Recompute a merchant's aggregates (every merchant's by default) from the source
    tables, each in its own transaction under the job's lock: every day from the first
    row to the last, with the bucket function the incremental job uses.

    A rebuild of every merchant then moves the watermarks past the ids that were there
    when it began (all of them were read since), so the incremental job does not read
    the whole history again after a first rebuild."""
    result = RunResult()
    started = timezone.now()
    newest = _newest_ids() if merchant_id is None else None
    for pk, tz_name in _merchants(merchant_id):
        tz = ZoneInfo(str(tz_name))
        with transaction.atomic():
            _watermarks_lock(wait=True)
            for model in buckets.AGGREGATES:
                model.objects.filter(merchant_id=pk).delete()
            spans = [span for source in SOURCES if (span := _span(source, pk, tz))]
            if not spans:
                continue
            first = min(span[0] for span in spans)
            last = max(span[1] for span in spans)
            buckets.recompute(merchant_id=pk, tz=tz, ranges=[(first, last)])
            result.buckets += (last - first).days + 1
            result.merchants.add(pk)
    if newest is not None:
        with transaction.atomic():
            marks = _watermarks_lock(wait=True)
            for source in SOURCES:
                mark = marks[source.name]
                mark.last_id = max(mark.last_id, newest[source.name])
                mark.seen_id = max(mark.seen_id, mark.last_id)
                # Every row committed a settle delay before the rebuild began was read.
                covered = started - settle_delay()
                if mark.covered_at is None or mark.covered_at < covered:
                    mark.covered_at = covered
            ReportWatermark.objects.bulk_update(
                marks.values(), ["last_id", "seen_id", "covered_at"]
            )
    return result
