"""The nightly job of achievements: occurrences that can no longer count stop counting.

A streak that broke (a whole period ended with no occurrence) is recorded once as a
``StreakReset``, so the member sees it start again from zero, and its occurrences are
marked as no longer counting; occurrences older than a rolling window drop out. Members
are locked in batches, as the order path locks them, so a run never races an order.
"""

import datetime
import zoneinfo

from django.db import transaction

from core.batches import value_batches
from loyalty.achievements import windows
from loyalty.achievements.terms import streak_broken_at
from loyalty.locks import members_lock_batch
from loyalty.models import (
    Achievement,
    AchievementOccurrence,
    AchievementWindow,
    Member,
    StreakReset,
)


def periods_close(
    *, now: datetime.datetime, batch_size: int = 500, merchant_id: int | None = None
) -> int:
    """Nightly: occurrences that can no longer count stop counting. A streak that broke
    (a period ended with no occurrence) is recorded once as a ``StreakReset`` and starts
    again from zero; occurrences older than a rolling window drop out. Returns how many
    streaks broke."""
    achievements = Achievement.objects.all()
    if merchant_id is not None:
        achievements = achievements.filter(merchant_id=merchant_id)
    for achievement in achievements.filter(window=AchievementWindow.ROLLING):
        AchievementOccurrence.objects.filter(
            achievement=achievement,
            completion__isnull=True,
            reversed_at__isnull=True,
            occurred_at__lte=now - datetime.timedelta(days=achievement.window_days or 0),
        ).update(reversed_at=now)
    streaks = Achievement.objects.filter(window=AchievementWindow.STREAK).select_related("merchant")
    broken = 0
    for achievement in streaks.iterator():
        tz = zoneinfo.ZoneInfo(str(achievement.merchant.timezone))
        unit = windows.Unit(achievement.streak_unit)
        open_rows = AchievementOccurrence.objects.filter(
            achievement=achievement, completion__isnull=True, reversed_at__isnull=True
        )
        for member_ids in value_batches(open_rows, "member_id", batch_size):
            with transaction.atomic():
                members = members_lock_batch(member_ids)
                broken += _streaks_close(achievement, unit, tz, members, open_rows, now)
    return broken


def _streaks_close(
    achievement: Achievement,
    unit: windows.Unit,
    tz: zoneinfo.ZoneInfo,
    members: list[Member],
    open_rows,
    now: datetime.datetime,
) -> int:
    rows = open_rows.filter(member__in=members).values_list("member_id", "id", "occurred_at")
    by_member: dict[int, list[tuple[int, datetime.datetime]]] = {}
    for member_id, pk, at in rows:
        by_member.setdefault(member_id, []).append((pk, at))
    broken = 0
    for member_id, occurrences in by_member.items():
        ended = streak_broken_at([at for _, at in occurrences], unit, tz, now)
        if ended is None:
            continue
        length, empty = ended
        StreakReset.objects.get_or_create(
            achievement=achievement,
            member_id=member_id,
            broken_period=empty.start.astimezone(tz).date(),
            defaults={
                "merchant_id": achievement.merchant_id,
                "length": length,
                "recorded_at": now,
            },
        )
        AchievementOccurrence.objects.filter(
            pk__in=[pk for pk, at in occurrences if at < empty.start]
        ).update(reversed_at=now)
        broken += 1
    return broken
