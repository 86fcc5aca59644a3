"""Reads of achievements: where a member stands on each, and what an order did."""

import datetime
from dataclasses import dataclass

from django.db.models import Q

from loyalty.achievements import windows
from loyalty.achievements.services import Outcome
from loyalty.achievements.terms import AchievementTerms, completion_period, is_open
from loyalty.models import (
    Achievement,
    AchievementCompletion,
    AchievementOccurrence,
    Activity,
    Member,
    Order,
    StreakReset,
)
from loyalty.program_config import achievement_terms
from merchants.models import Merchant


@dataclass(frozen=True)
class AchievementStatus:
    """A member's standing on one achievement now."""

    achievement: Achievement
    terms: AchievementTerms
    progress: windows.Progress
    completions: tuple[AchievementCompletion, ...]
    last_reset: StreakReset | None
    # Completed for good (once ever), or for the current period: nothing to do until the
    # next one.
    done_for_now: bool
    open_now: bool  # within its active dates


def member_achievement_list(
    *, merchant: Merchant, member: Member, now: datetime.datetime
) -> list[AchievementStatus]:
    """The active achievements of the member's program (and those they completed before
    one was switched off), with their progress: four queries whatever the number."""
    completions: dict[int, list[AchievementCompletion]] = {}
    for completion in AchievementCompletion.objects.filter(member=member).order_by(
        "-completed_at", "-id"
    ):
        completions.setdefault(completion.achievement_id, []).append(completion)
    achievements = list(
        Achievement.objects.filter(merchant=merchant, program__is_active=True)
        .filter(Q(is_active=True) | Q(pk__in=list(completions)))
        .select_related("segment")
        .order_by("position", "id")
    )
    occurrences: dict[int, list[windows.Occurrence]] = {}
    rows = AchievementOccurrence.objects.filter(
        member=member,
        achievement__in=achievements,
        completion__isnull=True,
        reversed_at__isnull=True,
    ).values_list("achievement_id", "occurred_at", "amount")
    for achievement_id, at, amount in rows:
        occurrences.setdefault(achievement_id, []).append(windows.Occurrence(at=at, amount=amount))
    resets: dict[int, StreakReset] = {}
    for reset in StreakReset.objects.filter(member=member).order_by("-broken_period", "-id"):
        resets.setdefault(reset.achievement_id, reset)
    tz = merchant.timezone
    statuses = []
    for achievement in achievements:
        terms = achievement_terms(achievement)
        done = completions.get(achievement.pk, [])
        period = completion_period(terms, now, tz)
        done_for_now = any(completion.period == period for completion in done)
        progress = windows.progress(
            occurrences.get(achievement.pk, []), terms.window, terms.goal, tz, now, terms.starts_at
        )
        if done_for_now and terms.repeat == "once":
            progress = windows.Progress(current=progress.goal, goal=progress.goal)
        statuses.append(
            AchievementStatus(
                achievement=achievement,
                terms=terms,
                progress=progress,
                completions=tuple(done),
                last_reset=resets.get(achievement.pk),
                done_for_now=done_for_now,
                open_now=achievement.is_active and is_open(terms, now),
            )
        )
    return statuses


def source_outcomes(
    *, recorded: Order | Activity, source: str, now: datetime.datetime
) -> list[Outcome]:
    """What an order or activity (``source``: ``order:<id>``) did to achievements, read
    back (a replayed or listed one): each achievement it counted toward, with the
    member's progress now, and whether it was this one that completed it. One query when
    it counted toward nothing (its merchant and member are read only when it did)."""
    counted = set(
        AchievementOccurrence.objects.filter(
            merchant_id=recorded.merchant_id, source=source
        ).values_list("achievement_id", flat=True)
    )
    if not counted:
        return []
    completed = dict(
        AchievementCompletion.objects.filter(
            merchant_id=recorded.merchant_id, source=source
        ).values_list("achievement_id", "points")
    )
    statuses = member_achievement_list(merchant=recorded.merchant, member=recorded.member, now=now)
    return [
        Outcome(
            achievement_id=status.achievement.pk,
            name=status.achievement.name,
            current=status.progress.current,
            goal=status.progress.goal,
            completed=status.achievement.pk in completed,
            points=completed.get(status.achievement.pk, 0),
        )
        for status in statuses
        if status.achievement.pk in counted
    ]
