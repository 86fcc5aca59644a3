"""The back office's own day, whatever zone the reader sees times in.

A staff user may read the admin's times in their own zone (``core.staff_preferences``):
Django then makes it the current zone for their request, and ``timezone.localdate()``
answers their day. A rule (may an invoice be paid on that date, is a code expired) or a
figure everyone compares (today's count on the home, a report's days) must not move with
the reader, so it counts days in the site's zone (``TIME_ZONE``), as the scheduled jobs do.
"""

import datetime

from django.utils import timezone


def site_zone() -> datetime.tzinfo:
    return timezone.get_default_timezone()


def site_today(now: datetime.datetime | None = None) -> datetime.date:
    """The site's date at ``now`` (at this moment without one)."""
    return timezone.localdate(now, timezone=site_zone())
