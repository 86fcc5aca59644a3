"""Achievements: counting what members do, completing, and rewarding once.

Invariants:

- **An event counts once.** Each order, activity, redemption or referral adds at most one
  ``AchievementOccurrence`` per achievement, keyed by its source (``order:<id>``); the
  unique constraint refuses a second. An order that is replayed never reaches here (its
  own row is refused first).
- **Progress is written with the event, under the member's lock.** The occurrence is
  queued in the same ``WriteBatch`` as the order's own rows; once they are written,
  ``achievements_advance`` reads the member's open occurrences and completes what
  reaches its goal, in the same transaction. Orders of one member are serialised by that
  lock, so two concurrent orders cannot both see "one short" and both complete.
- **A completion is given once.** ``AchievementCompletion`` is unique per (achievement,
  member, period): ``ever`` for an achievement completed once, else its calendar period.
  Its points go through the ledger (source: the achievement) in the same transaction,
  and the occurrences it counted are marked as consumed.
- **A refund takes the count back until completion.** The order's open occurrences are
  reversed (or, for an amount, reduced to what is left of the order); consumed ones stay:
  what a completion gave is kept, as points earned by an order are.

Progress itself is computed, not stored: ``loyalty.achievements.windows`` over the open
occurrences, in the merchant's time zone.
"""

import datetime
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q

from core.actors import Actor
from loyalty import ledger
from loyalty.achievements import windows
from loyalty.achievements.terms import (
    AchievementTerms,
    Happening,
    amount_counted,
    completion_period,
    counted_moments,
    order_qualifies,
)
from loyalty.batch import WriteBatch
from loyalty.exceptions import NoActiveProgram
from loyalty.locks import member_lock
from loyalty.models import (
    AchievementCompletion,
    AchievementOccurrence,
    LedgerEntry,
    Member,
    Order,
)
from loyalty.program_config import achievement_terms, program_config
from loyalty.services.programs import lot_expiry
from merchants.models import Merchant


@dataclass
class Advance:
    """An event of a locked member, with the achievements its occurrences were queued
    for: what ``achievements_advance`` completes and reports."""

    member: Member
    source: str
    label: str  # the source in words: "order 1043"
    terms: list[AchievementTerms]
    outcomes: list["Outcome"] | None = None


@dataclass(frozen=True)
class Outcome:
    """What an event did to one achievement: the progress after it, and whether it
    completed it (and with how many points)."""

    achievement_id: int
    name: str
    current: Decimal
    goal: Decimal
    completed: bool
    points: int = 0


def _done_keys(member_ids: Iterable[int], terms: Sequence[AchievementTerms], at, tz) -> set:
    """(member, achievement) pairs already completed for the period ``at`` is in."""
    wanted = Q()
    for one in terms:
        wanted |= Q(achievement_id=one.id, period=completion_period(one, at, tz))
    rows = AchievementCompletion.objects.filter(wanted, member_id__in=list(member_ids))
    return set(rows.values_list("member_id", "achievement_id"))


def occurrences_queue(
    *,
    member: Member,
    candidates: Sequence[AchievementTerms],
    happening: Happening,
    source: str,
    label: str,
    segment_ids: frozenset[int],
    now: datetime.datetime,
    batch: WriteBatch,
    done: set[tuple[int, int]] | None = None,
) -> Advance | None:
    """Queue in ``batch`` an occurrence of ``happening`` for each achievement it counts
    toward (and the member has not completed for the period); None when there is none."""
    counted: list[AchievementTerms] = []
    for terms in candidates:
        if done is not None and (member.pk, terms.id) in done:
            continue
        amount = amount_counted(terms, happening, segment_ids)
        if amount is None:
            continue
        counted.append(terms)
        batch.insert(
            AchievementOccurrence(
                merchant_id=member.merchant_id,
                achievement_id=terms.id,
                member=member,
                source=source,
                occurred_at=happening.at,
                amount=amount,
                created_at=now,
            )
        )
    return Advance(member=member, source=source, label=label, terms=counted) if counted else None


def candidates_for(config_achievements: Sequence[AchievementTerms], trigger: str):
    return [terms for terms in config_achievements if terms.trigger == trigger]


def achievements_queue(
    *,
    members: Sequence[tuple[Member, Happening, str, str]],
    achievements: Sequence[AchievementTerms],
    segment_ids_of,
    tz: zoneinfo.ZoneInfo,
    now: datetime.datetime,
    batch: WriteBatch,
) -> list[Advance]:
    """``occurrences_queue`` for the events of a round (each of another locked member):
    one query for what the members already completed this period."""
    if not members:
        return []
    trigger = members[0][1].trigger
    candidates = candidates_for(achievements, trigger)
    if not candidates:
        return []
    done = _done_keys((member.pk for member, *_ in members), candidates, now, tz)
    advances = []
    for member, happening, source, label in members:
        advance = occurrences_queue(
            member=member,
            candidates=candidates,
            happening=happening,
            source=source,
            label=label,
            segment_ids=segment_ids_of(member),
            now=now,
            batch=batch,
            done=done,
        )
        if advance is not None:
            advances.append(advance)
    return advances


def achievements_advance(
    *,
    advances: Sequence[Advance],
    tz: zoneinfo.ZoneInfo,
    expiry_of,
    now: datetime.datetime,
    actor: Actor,
) -> None:
    """After the occurrences of ``advances`` are written: each member's progress on the
    achievements their event counted toward, and the completions it reaches, rewarded
    (the members locked by the caller). Sets each advance's ``outcomes``."""
    if not advances:
        return
    member_ids = {advance.member.pk for advance in advances}
    achievement_ids = {terms.id for advance in advances for terms in advance.terms}
    open_rows = AchievementOccurrence.objects.filter(
        member_id__in=member_ids,
        achievement_id__in=achievement_ids,
        completion__isnull=True,
        reversed_at__isnull=True,
    ).values_list("member_id", "achievement_id", "id", "occurred_at", "amount")
    by_pair: dict[tuple[int, int], list[tuple[int, datetime.datetime, Decimal]]] = {}
    for member_id, achievement_id, pk, at, amount in open_rows:
        by_pair.setdefault((member_id, achievement_id), []).append((pk, at, amount))
    for advance in advances:
        advance.outcomes = []
        for terms in advance.terms:
            rows = by_pair.get((advance.member.pk, terms.id), [])
            advance.outcomes.append(
                _progress_or_complete(advance, terms, rows, tz, expiry_of, now, actor)
            )


def _progress_or_complete(
    advance: Advance,
    terms: AchievementTerms,
    rows: list[tuple[int, datetime.datetime, Decimal]],
    tz: zoneinfo.ZoneInfo,
    expiry_of,
    now: datetime.datetime,
    actor: Actor,
) -> Outcome:
    occurrences = [windows.Occurrence(at=at, amount=amount) for _, at, amount in rows]
    progress = windows.progress(occurrences, terms.window, terms.goal, tz, now, terms.starts_at)
    if not progress.complete:
        return Outcome(terms.id, terms.name, progress.current, progress.goal, completed=False)
    moments = counted_moments(terms, [at for _, at, _ in rows], tz, now)
    consumed = [pk for pk, at, _ in rows if at in moments]
    completion = _complete(advance, terms, consumed, tz, expiry_of, now, actor)
    return Outcome(
        terms.id,
        terms.name,
        progress.current,
        progress.goal,
        completed=completion is not None,
        points=completion.points if completion else 0,
    )


def _complete(
    advance: Advance,
    terms: AchievementTerms,
    consumed: list[int],
    tz: zoneinfo.ZoneInfo,
    expiry_of,
    now: datetime.datetime,
    actor: Actor,
) -> AchievementCompletion | None:
    member = advance.member
    period = completion_period(terms, now, tz)
    completion = AchievementCompletion(
        merchant_id=member.merchant_id,
        achievement_id=terms.id,
        member=member,
        period=period,
        completed_at=now,
        source=advance.source,
        reason=_reason(terms, advance.label),
        points=terms.reward_points,
    )
    try:
        # The member is locked, so a second completion can only come from a bug or a
        # row written outside this module; the constraint keeps the reward single anyway.
        with transaction.atomic():
            completion.save()
    except IntegrityError:
        return None
    AchievementOccurrence.objects.filter(pk__in=consumed).update(completion=completion)
    entry = ledger.points_earn(
        member=member,
        member_locked=True,
        points=terms.reward_points,
        at=now,
        available_at=now,
        expires_at=expiry_of(now),
        source_type=LedgerEntry.Source.ACHIEVEMENT,
        source_ref=str(terms.id),
        reason=f"achievement “{terms.name}” completed",
        actor=actor,
    )
    if entry is not None:
        completion.entry = entry
        completion.save(update_fields=["entry"])
    return completion


def _reason(terms: AchievementTerms, label: str) -> str:
    goal = f"{terms.goal.normalize():f}"
    if terms.window.kind == windows.WindowKind.STREAK:
        return f"{goal} {terms.window.unit}s in a row, completed by {label}"
    return f"Goal of {goal} reached with {label}"


# -- orders, activities, redemptions, referrals -----------------------------------------------


def order_happening(order: Order, lines: Iterable) -> Happening:
    lines = list(lines)
    return Happening(
        trigger="order",
        at=order.placed_at,
        total=order.program_total,
        points=order.points_earned,
        skus=frozenset(line.sku for line in lines if line.sku),
        categories=frozenset(line.category for line in lines if line.category),
    )


def event_record(
    *,
    member: Member,
    achievements: Sequence[AchievementTerms],
    happening: Happening,
    source: str,
    label: str,
    segment_ids: frozenset[int],
    tz: zoneinfo.ZoneInfo,
    program,
    now: datetime.datetime,
    actor: Actor,
) -> list[Outcome]:
    """Count one event of a locked member that is not an order of the order path (an
    activity, a redemption, a qualified referral): its occurrences written, progress and
    completions at once."""
    batch = WriteBatch()
    advances = achievements_queue(
        members=[(member, happening, source, label)],
        achievements=achievements,
        segment_ids_of=lambda _member: segment_ids,
        tz=tz,
        now=now,
        batch=batch,
    )
    if not advances:
        return []
    try:
        with transaction.atomic():
            batch.execute()
    except IntegrityError:
        return []  # counted before: the same source again
    achievements_advance(
        advances=advances,
        tz=tz,
        expiry_of=lambda at: lot_expiry(program, at),
        now=now,
        actor=actor,
    )
    return advances[0].outcomes or []


def member_event_record(
    *,
    member: Member,
    happening: Happening,
    source: str,
    label: str,
    now: datetime.datetime,
    actor: Actor,
) -> list[Outcome]:
    """``event_record`` for a caller outside the order path (a redemption, a qualified
    referral), in its transaction: the member locked (again) and read as they are now,
    the program's configuration as of this transaction, and the member's segments."""
    version = Merchant.objects.values_list("config_version", flat=True).get(pk=member.merchant_id)
    try:
        config = program_config(merchant_id=member.merchant_id, version=version)
    except NoActiveProgram:
        return []
    if not any(one.trigger == happening.trigger for one in config.achievements):
        return []
    member = member_lock(member.pk)
    merchant = Merchant.objects.only("timezone").get(pk=member.merchant_id)
    segment_ids = frozenset(
        member.segment_stays.filter(left_at__isnull=True).values_list("segment_id", flat=True)
    )
    return event_record(
        member=member,
        achievements=config.achievements,
        happening=happening,
        source=source,
        label=label,
        segment_ids=segment_ids,
        tz=merchant.timezone,
        program=config.program,
        now=now,
        actor=actor,
    )


def source_reverse(*, merchant_id: int, source: str, at: datetime.datetime) -> int:
    """The event ``source`` no longer counts (a redemption refunded): its occurrences
    that no completion consumed are reversed. Returns how many."""
    return AchievementOccurrence.objects.filter(
        merchant_id=merchant_id, source=source, completion__isnull=True, reversed_at__isnull=True
    ).update(reversed_at=at)


def order_refunded(*, order: Order, at: datetime.datetime) -> int:
    """After a refund of ``order`` (locked): its open occurrences follow what is left of
    it. An order refunded in full, or below an achievement's minimum, no longer counts;
    for an amount, the occurrence keeps what is left. Returns how many changed."""
    rows = list(
        AchievementOccurrence.objects.filter(
            merchant_id=order.merchant_id,
            source=f"order:{order.pk}",
            completion__isnull=True,
            reversed_at__isnull=True,
        ).select_related("achievement")
    )
    if not rows:
        return 0
    kept_share = (order.total - order.refunded_total) / order.total if order.total else Decimal(0)
    net_total = order.program_total * kept_share
    net_points = order.points_earned - order.points_reversed
    lines = list(order.lines.all())
    changed = 0
    for row in rows:
        terms = achievement_terms(row.achievement)
        happening = order_happening(order, lines)
        amount = {"count": Decimal(1), "spend": net_total, "points": Decimal(net_points)}[
            terms.measure
        ]
        if kept_share <= 0 or amount <= 0 or not order_qualifies(terms, net_total, happening):
            row.reversed_at = at
            row.save(update_fields=["reversed_at"])
        elif amount != row.amount:
            row.amount = amount
            row.save(update_fields=["amount"])
        else:
            continue
        changed += 1
    return changed
