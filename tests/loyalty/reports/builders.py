"""Builders for the report tests: ledger state at chosen times, and the aggregates as
plain rows to compare."""

import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from core.actors import Actor
from loyalty import ledger
from loyalty.models import LedgerEntry, Member
from loyalty.reports import aggregates, buckets

TEST = Actor.system("test")


def at(day: datetime.date | str, hour: int = 12, minute: int = 0, tz: str = "UTC"):
    """An aware time on a local day of the zone ``tz``."""
    if isinstance(day, str):
        day = datetime.date.fromisoformat(day)
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=ZoneInfo(tz))


def run_job(now: datetime.datetime | None = None) -> aggregates.RunResult:
    return aggregates.aggregates_update(now=now or timezone.now())


def earn(member: Member, points: int, when: datetime.datetime, *, expires_at=None, pending=False):
    """Points earned at ``when`` (an activity-like credit), spendable at once or pending
    for a week."""
    return ledger.points_earn(
        member=member,
        points=points,
        at=when,
        available_at=when + datetime.timedelta(days=7) if pending else when,
        expires_at=expires_at,
        source_type=LedgerEntry.Source.ACTIVITY,
        reason="test",
        actor=TEST,
    )


def spend(member: Member, points: int, when: datetime.datetime) -> LedgerEntry:
    return ledger.points_spend(
        member=member,
        points=points,
        at=when,
        source_type=LedgerEntry.Source.REDEMPTION,
        source_ref=f"r-{when:%s}-{points}",
        actor=TEST,
    )


def adjust(member: Member, points: int, when: datetime.datetime, *, source="staff"):
    return ledger.points_adjust(
        member=member,
        points=points,
        reason="test",
        at=when,
        expires_at=None,
        source_type=source,
        actor=TEST,
    )


def snapshot(merchant_id: int | None = None) -> dict[str, list[tuple]]:
    """Every aggregate row (without its id), sorted: two snapshots are equal when the
    aggregates hold the same figures."""
    tables = {}
    for model in buckets.AGGREGATES:
        rows = model.objects.all()
        if merchant_id is not None:
            rows = rows.filter(merchant_id=merchant_id)
        fields = [f.attname for f in model._meta.concrete_fields if f.name != "id"]
        tables[model.__name__] = sorted((tuple(row) for row in rows.values_list(*fields)), key=repr)
    return tables
