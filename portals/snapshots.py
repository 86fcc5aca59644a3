"""Report snapshots: a period's program, rewards and care figures computed once, then read by
every dashboard request, download and PDF of that period until its sources change.

Why: the distinct-member figures (active members, the redeemer split, repeat buyers, top
members) and the delivery-time percentiles need every member-day or redemption of the
period, not daily sums; for a merchant with a million members that is seconds of
database work, too slow for a page. So they are computed off the request:

- **The snapshot job** (every minute, ``snapshots_refresh``) keeps each live merchant's
  dashboard presets, and the periods they are compared with, computed: a missing one at
  once, a changed one when it is older than ``REPORT_SNAPSHOT_REFRESH_SECONDS``
  (default 60), or than three times what computing the merchant's changed periods took,
  if longer (a merchant with a million members).
- **Changed** means a source of the period moved after the snapshot began (less a safety
  margin for transactions still open then): a day up to the period's end whose report
  aggregates were recomputed (``loyalty.reports.selectors.days_changed``: members total,
  liability and cohorts add up every day until the end), or a redemption made in the
  period that was made or changed (``fulfillment.reports.days_changed``), or a ticket or
  rating whose days it holds (``customercare.reports.changes_since``). A period that no
  write touches keeps its snapshot for good; the figures of one that ended long ago are
  computed once.
- **A request** reads the snapshot when nothing changed since, or when it is younger than
  ``REPORT_SNAPSHOT_MAX_LAG_SECONDS`` (default 120: the job is about to replace it);
  otherwise (a custom range, the job not running) it computes the figures itself and
  keeps them for the next request. The page's "as of" is the snapshot's, so it never
  claims to be more current than it is.
"""

import dataclasses
import datetime
import hashlib
import logging
import pickle  # the rows are written by this module only, never from a request
import time
import typing
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from customercare import reports as care_reports
from customercare.reports import MerchantCareReport, care_report
from fulfillment import reports as rewards_reports
from fulfillment.reports import RewardsReport, rewards_report
from loyalty.exceptions import NoActiveProgram
from loyalty.models import Program
from loyalty.reports import selectors as program_selectors
from loyalty.reports.selectors import ProgramReport, program_report
from merchants.models import Merchant, MerchantStatus
from portals.models import ReportSnapshot
from portals.periods import PRESETS, Period, preset_period

logger = logging.getLogger(__name__)

# How many members the top-member tables list (every snapshot ranks them: one pass).
TOP = 10
DEFAULT_REFRESH_SECONDS = 60
DEFAULT_MAX_LAG_SECONDS = 120
# A merchant's changed periods are computed again no sooner than this many times what
# computing them took.
BUSY_FACTOR = 3
# A change stamped this long before a snapshot began still counts as after it: the
# transaction that wrote it may have committed after the snapshot read its sources.
MARGIN = datetime.timedelta(seconds=90)
# Snapshots of periods that are no longer a preset (custom ranges, yesterday's "last 30
# days") are deleted once this old.
KEEP = datetime.timedelta(days=1)


@dataclass(frozen=True)
class PeriodFigures:
    program: ProgramReport
    rewards: RewardsReport
    care: MerchantCareReport
    # When the computation began: with the merchant and the days, what names this
    # version of the figures (what is drawn from them can be kept under it).
    computed_at: datetime.datetime


def _dataclasses_in(hint: object) -> Iterable[type]:
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        yield hint
    for argument in typing.get_args(hint):
        yield from _dataclasses_in(argument)


def _shape(root: type) -> str:
    """The names of ``root``'s fields and of every dataclass they hold, recursively: a
    snapshot pickled with another shape is not read back (it is recomputed)."""
    seen: dict[str, list[str]] = {}
    pending = [root]
    while pending:
        cls = pending.pop()
        name = f"{cls.__module__}.{cls.__qualname__}"
        if name in seen:
            continue
        seen[name] = [field.name for field in dataclasses.fields(cls)]
        for hint in typing.get_type_hints(cls).values():
            pending.extend(_dataclasses_in(hint))
    text = repr(sorted(seen.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


SCHEMA = _shape(PeriodFigures)


def _seconds(name: str, default: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=getattr(settings, name, default))


def refresh_after() -> datetime.timedelta:
    return _seconds("REPORT_SNAPSHOT_REFRESH_SECONDS", DEFAULT_REFRESH_SECONDS)


def max_lag() -> datetime.timedelta:
    return _seconds("REPORT_SNAPSHOT_MAX_LAG_SECONDS", DEFAULT_MAX_LAG_SECONDS)


# -- computing and keeping ------------------------------------------------------------------------


def figures_compute(
    *, merchant: Merchant, period: Period, began: datetime.datetime
) -> PeriodFigures:
    """The period's figures, from the aggregates, the redemptions and the tickets."""
    return PeriodFigures(
        computed_at=began,
        program=program_report(merchant=merchant, start=period.start, end=period.end, top=TOP),
        rewards=rewards_report(merchant=merchant, start=period.start, end=period.end),
        care=care_report(merchant=merchant, start=period.start, end=period.end),
    )


def _keep(merchant: Merchant, period: Period, figures: PeriodFigures, began, took_ms: int) -> None:
    """Store the figures unless a snapshot begun later is there already."""
    values = {
        "computed_at": began,
        "took_ms": took_ms,
        "schema": SCHEMA,
        "figures": pickle.dumps(figures, protocol=pickle.HIGHEST_PROTOCOL),
    }
    key = {"merchant": merchant, "start": period.start, "end": period.end}
    if ReportSnapshot.objects.filter(**key, computed_at__lt=began).update(**values):
        return
    if ReportSnapshot.objects.filter(**key).exists():
        return  # a newer one
    try:
        with transaction.atomic():
            ReportSnapshot.objects.create(**key, **values)
    except IntegrityError:
        pass  # another process stored the same period meanwhile


def figures_refresh(*, merchant: Merchant, periods: list[Period]) -> list[PeriodFigures]:
    """Compute the periods' figures now and keep each (with how long it took)."""
    computed = []
    for period in periods:
        began = timezone.now()
        clock = time.perf_counter()
        figures = figures_compute(merchant=merchant, period=period, began=began)
        _keep(merchant, period, figures, began, round((time.perf_counter() - clock) * 1000))
        computed.append(figures)
    return computed


def _load(snapshot: ReportSnapshot) -> PeriodFigures | None:
    if snapshot.schema != SCHEMA:
        return None
    try:
        figures = pickle.loads(bytes(snapshot.figures))  # noqa: S301 (written by _keep only)
    except Exception:  # a row that does not load is recomputed
        logger.warning("Report snapshot %s did not load; recomputing it.", snapshot.pk)
        return None
    return figures if isinstance(figures, PeriodFigures) else None


# -- what changed -------------------------------------------------------------------------------


# A span of local days a change touched (first, last) and when it was made.
Span = tuple[datetime.date, datetime.date, datetime.datetime]


@dataclass(frozen=True)
class Changes:
    """The spans of the merchant's days whose sources changed since some instant."""

    spans: list[Span]

    @classmethod
    def since(cls, *, merchant: Merchant, since: datetime.datetime) -> "Changes":
        program = program_selectors.days_changed(merchant=merchant, since=since)
        rewards = rewards_reports.days_changed(merchant=merchant, since=since)
        return cls(
            # A program figure adds up every day to the period's end (members, liability).
            [(day, datetime.date.max, at) for day, at in program.items()]
            + [(day, day, at) for day, at in rewards.items()]
            + care_reports.changes_since(merchant=merchant, since=since)
        )

    def touch(self, *, start: datetime.date, end: datetime.date, after: datetime.datetime) -> bool:
        """Whether a change at or after ``after`` (less the margin) touches the period."""
        after = after - MARGIN
        return any(first <= end and last >= start and at >= after for first, last, at in self.spans)


def _snapshots(merchant: Merchant, periods: Iterable[Period]) -> dict[tuple, ReportSnapshot]:
    keys = Q()
    for period in periods:
        keys |= Q(start=period.start, end=period.end)
    rows = ReportSnapshot.objects.filter(keys, merchant=merchant)
    return {(row.start, row.end): row for row in rows}


# -- reading ------------------------------------------------------------------------------------


def period_figures(*, merchant: Merchant, periods: list[Period]) -> list[PeriodFigures]:
    """The figures of each period, from its snapshot when that is current enough (see the
    module's note), else computed now and kept. Raises ``NoActiveProgram`` before the
    merchant has a program."""
    now = timezone.now()
    stored = _snapshots(merchant, periods)
    loaded: dict[tuple, PeriodFigures] = {}
    aging: list[ReportSnapshot] = []
    for key, snapshot in stored.items():
        figures = _load(snapshot)
        if figures is None:
            continue
        loaded[key] = figures
        if snapshot.computed_at < now - max_lag():
            aging.append(snapshot)
    if aging:
        changes = Changes.since(
            merchant=merchant, since=min(row.computed_at for row in aging) - MARGIN
        )
        for snapshot in aging:
            if changes.touch(start=snapshot.start, end=snapshot.end, after=snapshot.computed_at):
                del loaded[(snapshot.start, snapshot.end)]
    missing = list(
        {(p.start, p.end): p for p in periods if (p.start, p.end) not in loaded}.values()
    )
    if missing:
        for period, figures in zip(
            missing, figures_refresh(merchant=merchant, periods=missing), strict=True
        ):
            loaded[(period.start, period.end)] = figures
    return [loaded[(period.start, period.end)] for period in periods]


# -- the job ------------------------------------------------------------------------------------


def dashboard_periods(*, today: datetime.date) -> list[Period]:
    """The dashboard's presets as of ``today`` and the periods each is compared with."""
    periods: dict[tuple, Period] = {}
    for name in PRESETS:
        try:
            period = preset_period(name, today=today)
        except KeyError:
            continue  # "custom" has no days of its own
        for each in (period, period.previous()):
            periods.setdefault((each.start, each.end), each)
    return list(periods.values())


@dataclass
class RefreshResult:
    merchants: int = 0
    computed: int = 0
    current: int = 0
    deleted: int = 0
    took_ms: int = 0

    def __str__(self) -> str:
        return (
            f"{self.computed} snapshot(s) computed in {self.took_ms} ms, {self.current} "
            f"current, {self.deleted} deleted, {self.merchants} merchant(s)"
        )


def merchant_refresh(*, merchant: Merchant, now: datetime.datetime, result: RefreshResult) -> None:
    """Bring one merchant's preset snapshots up to date (see ``snapshots_refresh``)."""
    today = timezone.localtime(now, merchant.timezone).date()
    periods = dashboard_periods(today=today)
    stored = _snapshots(merchant, periods)
    usable = {
        key: row for key, row in stored.items() if row.schema == SCHEMA and row.figures is not None
    }
    changes = (
        Changes.since(
            merchant=merchant, since=min(row.computed_at for row in usable.values()) - MARGIN
        )
        if usable
        else Changes([])
    )
    stale, changed = [], []
    for period in periods:
        row = usable.get((period.start, period.end))
        if row is None:
            stale.append(period)
        elif changes.touch(start=period.start, end=period.end, after=row.computed_at):
            changed.append((period, row))
        else:
            result.current += 1
    # Changed periods wait for the refresh interval, and for a merchant whose periods take
    # long to compute, for three times what they took: the job never spends more than a
    # third of its time on one merchant's figures.
    cost = datetime.timedelta(milliseconds=BUSY_FACTOR * sum(row.took_ms for _, row in changed))
    wait = max(refresh_after(), cost)
    for period, row in changed:
        if row.computed_at <= now - wait:
            stale.append(period)
        else:
            result.current += 1
    if stale:
        began = time.perf_counter()
        figures_refresh(merchant=merchant, periods=stale)
        result.computed += len(stale)
        result.took_ms += round((time.perf_counter() - began) * 1000)
    wanted = Q()
    for period in periods:
        wanted |= Q(start=period.start, end=period.end)
    deleted, _ = (
        ReportSnapshot.objects.filter(merchant=merchant, computed_at__lt=now - KEEP)
        .exclude(wanted)
        .delete()
    )
    result.deleted += deleted


def snapshots_refresh(*, now: datetime.datetime, merchant_id: int | None = None) -> RefreshResult:
    """The snapshot job: for every live merchant with a program, compute the dashboard
    periods' snapshots that are missing, and those a change touched once they are older
    than the refresh interval; delete what is no longer a preset after a day
    (``merchant_id``: that merchant only).

    Two runs at once (a slow run overlapping the next) only repeat work: a snapshot is
    stored unless one begun later is there already."""
    result = RefreshResult()
    merchants = Merchant.objects.filter(status=MerchantStatus.LIVE).order_by("pk")
    if merchant_id is not None:
        merchants = merchants.filter(pk=merchant_id)
    for merchant in merchants:
        try:
            merchant_refresh(merchant=merchant, now=now, result=result)
        except NoActiveProgram:
            continue
        result.merchants += 1
    return result


def program_saved(*, program: Program) -> None:
    """The loyalty app's ``on_program_saved`` hook: the program's currency, point value and
    tiers are in every figure, so the merchant's snapshots are dropped and the next read
    computes them again."""
    ReportSnapshot.objects.filter(merchant_id=program.merchant_id).delete()
