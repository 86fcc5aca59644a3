"""Scheduled jobs of the loyalty core: release pending points, expire points, recompute
tiers. Each is idempotent and works in bounded batches of members, walking member ids in
ascending order (keyset), so a million lots are never loaded at once. A batch locks its
members in id order; on PostgreSQL rows another worker holds are skipped (that worker is
already handling them) and picked up by the next run. Writes are set-based: a batch's
lots, balances and entries take a few statements, not a few per member. Release and
expiry hand their batches to a few threads, each batch its own transaction on its own
connection, so that Python builds one while PostgreSQL writes another (``batches_run``).
"""

import datetime
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import QuerySet

from core.actors import Actor
from core.batches import batches_run, value_batches
from core.jobs import progress
from loyalty import ledger, tiers
from loyalty.locks import members_lock_batch
from loyalty.models import ExpiryPolicy, Member, PointLot, Program

DEFAULT_BATCH = 500
# Who the entries and tier changes each job writes name: the job, by its command's name.
RELEASE = Actor.system("release_pending_points")
EXPIRE = Actor.system("expire_points")
RECOMPUTE = Actor.system("recompute_tiers")
LOT_AGE_REASON = "lots past their expiry date"


@dataclass
class JobResult:
    members: int = 0
    lots: int = 0
    points: int = 0
    changes: int = 0

    def __str__(self) -> str:
        return (
            f"{self.members} member(s), {self.lots} lot(s), {self.points} point(s), "
            f"{self.changes} change(s)"
        )


def _member_batches(lots: QuerySet[PointLot], batch_size: int):
    """Successive lists of member ids that own lots in ``lots``, ascending. Run as a task,
    the job's run shows how many of those members are done (one count, then one small
    UPDATE a batch)."""
    total = lots.values("member_id").distinct().count()
    done = 0
    progress(done, total)
    for member_ids in value_batches(lots, "member_id", batch_size):
        yield member_ids
        done += len(member_ids)
        progress(min(done, total), total)


def release_pending_points(
    *, now: datetime.datetime, batch_size: int = DEFAULT_BATCH, merchant_id: int | None = None
) -> JobResult:
    """Make pending lots whose return window has passed spendable."""
    due = PointLot.objects.filter(released_at__isnull=True, remaining__gt=0, available_at__lte=now)
    if merchant_id is not None:
        due = due.filter(merchant_id=merchant_id)
    result = JobResult()

    def release(member_ids: list[int]) -> list:
        with transaction.atomic():
            members = members_lock_batch(member_ids)
            return ledger.lots_release_due(members=members, due=due, at=now, actor=RELEASE)

    for released in batches_run(_member_batches(due, batch_size), release):
        result.members += len(released)
        result.lots += sum(lots for _, lots, _ in released)
        result.points += sum(entry.points for _, _, entry in released)
    return result


def expire_points(
    *, now: datetime.datetime, batch_size: int = DEFAULT_BATCH, merchant_id: int | None = None
) -> JobResult:
    """Expire lots past their date (lot-age policy) and every point of members inactive for
    longer than their program allows (inactivity policy)."""
    result = JobResult()
    aged = PointLot.objects.filter(
        released_at__isnull=False, remaining__gt=0, expires_at__isnull=False, expires_at__lte=now
    )
    if merchant_id is not None:
        aged = aged.filter(merchant_id=merchant_id)
    _expire(aged, now, batch_size, LOT_AGE_REASON, result)

    programs = Program.objects.filter(is_active=True, expiry_policy=ExpiryPolicy.INACTIVITY)
    if merchant_id is not None:
        programs = programs.filter(merchant_id=merchant_id)
    for program in programs:
        cutoff = now - relativedelta(months=program.expiry_months)
        idle = PointLot.objects.filter(
            merchant_id=program.merchant_id,
            released_at__isnull=False,
            remaining__gt=0,
            member__last_activity_at__lt=cutoff,
        )
        reason = f"no activity for {program.expiry_months} months"
        _expire(idle, now, batch_size, reason, result, inactive_before=cutoff)
    return result


def _expire(
    lots: QuerySet[PointLot],
    now: datetime.datetime,
    batch_size: int,
    reason: str,
    result: JobResult,
    inactive_before: datetime.datetime | None = None,
) -> None:

    def expire(member_ids: list[int]) -> list:
        with transaction.atomic():
            members = members_lock_batch(member_ids)
            if inactive_before is not None:
                # Re-check under the lock: an order may have arrived since the batch was read.
                members = [
                    m
                    for m in members
                    if m.last_activity_at and m.last_activity_at < inactive_before
                ]
            return ledger.lots_expire_due(
                members=members, lots=lots, at=now, reason=reason, actor=EXPIRE
            )

    for expired in batches_run(_member_batches(lots, batch_size), expire):
        result.members += len(expired)
        result.lots += sum(count for _, count, _ in expired)
        result.points += sum(-entry.points for _, _, entry in expired)


def recompute_tiers(
    *, now: datetime.datetime, batch_size: int = DEFAULT_BATCH, merchant_id: int | None = None
) -> JobResult:
    """Put every member of a tiered program in the tier their window gives, down as well
    as up (the only place a member moves down)."""
    result = JobResult()
    programs = Program.objects.filter(is_active=True, tiers_enabled=True)
    if merchant_id is not None:
        programs = programs.filter(merchant_id=merchant_id)
    for program in programs:
        last = 0
        while True:
            ids = list(
                Member.objects.filter(merchant_id=program.merchant_id, pk__gt=last)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            last = ids[-1]
            with transaction.atomic():
                members = members_lock_batch(ids)
                changes = tiers.tiers_recompute(
                    program=program, members=members, at=now, actor=RECOMPUTE
                )
            result.members += len(members)
            result.changes += len(changes)
    return result
