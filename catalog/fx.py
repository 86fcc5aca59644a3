"""Exchange rates from the drop folder, and alerts on rates grown stale.

A rate provider (or an operator) drops CSV files into ``EXCHANGE_RATE_DROP_DIR``. Each
file is imported whole or not at all: one bad row refuses the file, which moves to
``rejected/`` with the reasons beside it and a RATE_IMPORT alert; a good file moves to
``processed/``. Stored rates are history (catalog items keep the row they were priced
with), so a row never changes one: a row equal to a stored rate is skipped, a different
rate for the same pair and ``as_of`` is an error. Files are committed before they are
moved, so a crash in between only means the next run finds the same rows stored already.
"""

import csv
import datetime
import io
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from catalog.alerts import alert_clear, alert_raise
from catalog.models import AlertKind, CatalogAlert, MerchantCatalogItem, RewardStatus, SupplierOffer
from catalog.services import catalog_items_reprice
from core.actors import Actor
from loyalty.models import ExchangeRate, Program
from merchants.models import FeePlan

logger = logging.getLogger("catalog.fx")
# Who clears a rate alert once the rates are back: the refresh job.
RATES = Actor.system("refresh_exchange_rates")

COLUMNS = ("base", "quote", "rate", "as_of")
PROCESSED = "processed"
REJECTED = "rejected"
# Errors listed in full in the alert; the .errors.txt file always has them all.
ALERT_MAX_ERRORS = 20
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class RateRow:
    line: int
    base: str
    quote: str
    rate: Decimal
    as_of: datetime.datetime

    @property
    def key(self) -> tuple[str, str, datetime.datetime]:
        return (self.base, self.quote, self.as_of)


@dataclass
class RefreshResult:
    files_imported: list[str] = field(default_factory=list)
    files_rejected: list[str] = field(default_factory=list)
    rates_added: int = 0
    rates_unchanged: int = 0
    items_repriced: int = 0
    stale_pairs: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.files_imported)} file(s) imported, {len(self.files_rejected)} "
            f"rejected, {self.rates_added} rate(s) added, {self.rates_unchanged} unchanged, "
            f"{self.items_repriced} item(s) repriced, {len(self.stale_pairs)} stale pair(s)"
            + (f": {', '.join(self.stale_pairs)}" if self.stale_pairs else "")
        )


class _Refused(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


# -- parsing ------------------------------------------------------------------------------


def _field_clean(name: str, value: object, line: int, errors: list[str]):
    """The model field's own validation (currency codes, decimal digits)."""
    try:
        return ExchangeRate._meta.get_field(name).clean(value, None)
    except ValidationError as exc:
        errors.append(f"row {line}: {name}: {' '.join(exc.messages)}")
        return None


def _parse_as_of(raw: str) -> datetime.datetime | None:
    """An ISO 8601 time with its offset, or a date (midnight UTC); None when neither."""
    try:
        if _DATE_ONLY.fullmatch(raw):
            day = parse_date(raw)
            return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)
        moment = parse_datetime(raw)
    except ValueError:
        return None
    if moment is None or timezone.is_naive(moment):
        return None
    return moment.astimezone(datetime.UTC)


def rates_parse(text: str) -> list[RateRow]:
    """The rows of a rate file; raises ``_Refused`` listing every bad row."""
    reader = csv.DictReader(io.StringIO(text), restkey="__extra__")
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in COLUMNS if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise _Refused(
            [
                f"row 1: the header must name the columns {', '.join(COLUMNS)} "
                f"(found: {', '.join(header) or 'nothing'})"
            ]
        )
    reader.fieldnames = header
    rows: list[RateRow] = []
    errors: list[str] = []
    seen: dict[tuple[str, str, datetime.datetime], int] = {}
    for record in reader:
        line = reader.line_num
        if not any((value or "").strip() for key, value in record.items() if key in COLUMNS):
            continue  # a blank line
        if "__extra__" in record or any(record.get(name) is None for name in COLUMNS):
            errors.append(f"row {line}: expected {len(COLUMNS)} cells")
            continue
        cells = {name: record[name].strip() for name in COLUMNS}
        row_errors: list[str] = []
        base = _field_clean("base", cells["base"].upper(), line, row_errors)
        quote = _field_clean("quote", cells["quote"].upper(), line, row_errors)
        rate = _field_clean("rate", cells["rate"], line, row_errors)
        if rate is not None and rate <= 0:
            row_errors.append(f"row {line}: rate: must be positive, not {cells['rate']}")
        as_of = _parse_as_of(cells["as_of"])
        if as_of is None:
            row_errors.append(
                f"row {line}: as_of: {cells['as_of']!r} is not an ISO 8601 date, or a time "
                "with its offset (2025-01-31T16:00:00Z)"
            )
        if base and base == quote:
            row_errors.append(f"row {line}: base and quote are both {base}")
        if row_errors:
            errors.extend(row_errors)
            continue
        row = RateRow(line=line, base=base, quote=quote, rate=rate, as_of=as_of)
        if row.key in seen:
            errors.append(
                f"row {line}: {base}/{quote} at {as_of.isoformat()} is also on row {seen[row.key]}"
            )
            continue
        seen[row.key] = line
        rows.append(row)
    if errors:
        raise _Refused(errors)
    return rows


# -- storing ------------------------------------------------------------------------------


def _store(rows: list[RateRow], *, source: str) -> tuple[list[ExchangeRate], int]:
    """Insert the rows not stored yet; returns (new rows, how many were stored already).
    Raises ``_Refused`` (nothing written) when a row contradicts a stored rate."""
    if not rows:
        return [], 0
    stored = {
        (base, quote, as_of): rate
        for base, quote, as_of, rate in ExchangeRate.objects.filter(
            base__in={row.base for row in rows},
            quote__in={row.quote for row in rows},
            as_of__gte=min(row.as_of for row in rows),
            as_of__lte=max(row.as_of for row in rows),
        ).values_list("base", "quote", "as_of", "rate")
    }
    new, unchanged, errors = [], 0, []
    for row in rows:
        known = stored.get(row.key)
        if known is None:
            new.append(row)
        elif known == row.rate:
            unchanged += 1
        else:
            errors.append(
                f"row {row.line}: {row.base}/{row.quote} at {row.as_of.isoformat()} is stored "
                f"as {known.normalize()}; a stored rate is never changed (send a later as_of)"
            )
    if errors:
        raise _Refused(errors)
    created = ExchangeRate.objects.bulk_create(
        ExchangeRate(base=r.base, quote=r.quote, rate=r.rate, as_of=r.as_of, source=source)
        for r in new
    )
    return created, unchanged


def _import(text: str, *, source: str) -> tuple[list[ExchangeRate], int]:
    rows = rates_parse(text)
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _store(rows, source=source)
        except IntegrityError:
            # Another run stored some of these rows meanwhile: compare with them again.
            if attempt:
                raise
    raise AssertionError("unreachable")


# -- files --------------------------------------------------------------------------------


def _move(path: Path, folder: Path, *, now: datetime.datetime) -> Path | None:
    """Move ``path`` into ``folder`` without overwriting an earlier file of that name;
    None when another run moved it first."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{now:%Y%m%dT%H%M%S%f}{path.suffix}"
    try:
        path.rename(target)
    except FileNotFoundError:
        return None
    return target


def _refuse_file(path: Path, errors: list[str], *, now: datetime.datetime) -> None:
    target = _move(path, path.parent / REJECTED, now=now)
    if target is not None:
        target.with_suffix(".errors.txt").write_text("\n".join(errors) + "\n", encoding="utf-8")
    shown = errors[:ALERT_MAX_ERRORS]
    more = len(errors) - len(shown)
    alert_raise(
        kind=AlertKind.RATE_IMPORT,
        subject=_file_subject(path),
        message=f"{path.name} was refused, nothing imported (moved to {REJECTED}/): "
        + "; ".join(shown)
        + (f"; and {more} more" if more > 0 else ""),
    )
    logger.warning("rate file %s refused: %s", path.name, "; ".join(errors))


def _file_subject(path: Path) -> str:
    return f"rate-file:{path.name}"[:200]


def rates_import_drop_dir(*, now: datetime.datetime, result: RefreshResult) -> set[str]:
    """Import every ``*.csv`` of the drop folder, in name order; returns the currencies
    whose rates were added."""
    folder = Path(settings.EXCHANGE_RATE_DROP_DIR)
    if not folder.is_dir():
        return set()
    changed: set[str] = set()
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            continue  # another run took it
        except UnicodeDecodeError:
            _refuse_file(path, ["row 1: the file is not UTF-8 text"], now=now)
            result.files_rejected.append(path.name)
            continue
        try:
            created, unchanged = _import(text, source=f"file:{path.name}"[:100])
        except _Refused as refused:
            _refuse_file(path, refused.errors, now=now)
            result.files_rejected.append(path.name)
            continue
        _move(path, folder / PROCESSED, now=now)
        alert_clear(kind=AlertKind.RATE_IMPORT, subject=_file_subject(path), actor=RATES)
        result.files_imported.append(path.name)
        result.rates_added += len(created)
        result.rates_unchanged += unchanged
        for rate in created:
            changed.update((rate.base, rate.quote))
    return changed


# -- staleness ----------------------------------------------------------------------------


def currency_pairs_in_use(*, on: datetime.date) -> set[tuple[str, str]]:
    """Pairs (alphabetical) that prices and cost checks convert between: the face currency
    of a reward a merchant offers, or the cost currency of its active offers, against the
    merchant's program currency or its current fee plan's currency."""
    items = MerchantCatalogItem.objects.filter(is_enabled=True).exclude(
        reward__status=RewardStatus.RETIRED
    )
    sources: dict[int, set[str]] = {}
    rewards_of: dict[int, set[int]] = {}
    for merchant_id, reward_id, face in items.values_list(
        "merchant_id", "reward_id", "reward__face_currency"
    ):
        sources.setdefault(merchant_id, set()).add(face)
        rewards_of.setdefault(reward_id, set()).add(merchant_id)
    if not sources:
        return set()
    for reward_id, cost in (
        SupplierOffer.objects.filter(is_active=True, reward_id__in=rewards_of)
        .values_list("reward_id", "cost_currency")
        .distinct()
    ):
        for merchant_id in rewards_of[reward_id]:
            sources[merchant_id].add(cost)
    targets: dict[int, set[str]] = {merchant_id: set() for merchant_id in sources}
    for merchant_id, currency in Program.objects.filter(
        is_active=True, merchant_id__in=sources
    ).values_list("merchant_id", "currency"):
        targets[merchant_id].add(currency)
    plan_seen: set[int] = set()
    for merchant_id, currency in (
        FeePlan.objects.filter(merchant_id__in=sources, valid_from__lte=on)
        .order_by("merchant_id", "-valid_from")
        .values_list("merchant_id", "currency")
    ):
        if merchant_id not in plan_seen:  # the current plan: the latest started
            plan_seen.add(merchant_id)
            targets[merchant_id].add(currency)
    return {
        tuple(sorted((source, target)))
        for merchant_id, currencies in sources.items()
        for source in currencies
        for target in targets[merchant_id]
        if source != target
    }


def _pair_subject(pair: tuple[str, str]) -> str:
    return f"rate:{pair[0]}/{pair[1]}"


def rates_check_staleness(now: datetime.datetime | None = None) -> list[str]:
    """Raise a STALE_RATE alert for each pair in use whose latest rate (either direction:
    conversion uses the inverse) is older than ``EXCHANGE_RATE_MAX_AGE_HOURS`` or missing;
    clear it for the others. Returns the subjects of the stale pairs."""
    now = now or timezone.now()
    max_age = datetime.timedelta(hours=settings.EXCHANGE_RATE_MAX_AGE_HOURS)
    pairs = sorted(currency_pairs_in_use(on=now.date()))
    stale = []
    for a, b in pairs:
        subject = _pair_subject((a, b))
        latest = ExchangeRate.objects.filter(
            Q(base=a, quote=b) | Q(base=b, quote=a), as_of__lte=now
        ).aggregate(latest=Max("as_of"))["latest"]
        if latest is not None and now - latest <= max_age:
            alert_clear(kind=AlertKind.STALE_RATE, subject=subject, actor=RATES)
            continue
        stale.append(subject)
        if latest is None:
            message = f"{a}/{b}: no rate is stored, so prices in it cannot be computed."
        else:
            hours = int((now - latest).total_seconds() // 3600)
            message = (
                f"{a}/{b}: the latest rate is from {latest:%Y-%m-%d %H:%M} UTC, {hours} hours "
                f"old (the limit is {settings.EXCHANGE_RATE_MAX_AGE_HOURS})."
            )
        alert_raise(kind=AlertKind.STALE_RATE, subject=subject, message=message)
    # A pair nobody converts any more needs no alert.
    in_use = {_pair_subject(pair) for pair in pairs}
    for subject in CatalogAlert.objects.filter(
        kind=AlertKind.STALE_RATE, resolved_at=None
    ).values_list("subject", flat=True):
        if subject not in in_use:
            alert_clear(kind=AlertKind.STALE_RATE, subject=subject, actor=RATES)
    return stale


def rates_refresh(*, now: datetime.datetime | None = None) -> RefreshResult:
    """Import the drop folder's rate files, reprice the items whose currencies got a new
    rate, then alert on stale rates. Reads local files only: no network."""
    now = now or timezone.now()
    result = RefreshResult()
    changed = rates_import_drop_dir(now=now, result=result)
    if changed:
        result.items_repriced = catalog_items_reprice(currencies=sorted(changed), at=now)
    result.stale_pairs = rates_check_staleness(now)
    return result
