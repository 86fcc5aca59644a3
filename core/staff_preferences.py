"""A staff user's own preferences for the admin: the time zone its times are shown in.

The zone is read on every admin request (``config.staff_time_zone``'s middleware), so it
is read through the cache, per user: a request costs no query once the cache holds it, and
one indexed query (the one-to-one's unique index) when it does not. Saving drops the
cached value at once; the cache's timeout bounds how long another host could keep an old
one where the cache is not shared. A user without a row, or with a blank zone, reads times
in the site's zone (``TIME_ZONE``, UTC).

The zone changes how times are *shown* and how times typed into a form are read; the days
that rules and shared figures count by stay the site's (``core.site_time``)."""

import datetime
import logging
import zoneinfo
from typing import Any

from django.core.cache import cache
from django.db import transaction

from core.models import StaffPreference

logger = logging.getLogger(__name__)

CACHE_SECONDS = 10 * 60
# What the cache holds for a user who keeps the site's zone (None means "not cached").
SITE_ZONE = ""


def _cache_key(user_id: int) -> str:
    return f"staff-time-zone:{user_id}"


def staff_time_zone_name(*, user_id: int) -> str:
    """The zone the user chose ("Europe/Berlin"), "" for the site's."""
    key = _cache_key(user_id)
    name = cache.get(key)
    if name is None:
        stored = (
            StaffPreference.objects.filter(user_id=user_id)
            .values_list("time_zone", flat=True)
            .first()
        )
        name = str(stored) if stored else SITE_ZONE
        cache.set(key, name, CACHE_SECONDS)
    return name


def staff_time_zone(*, user_id: int) -> datetime.tzinfo | None:
    """The user's zone, None for the site's (or a name this system no longer knows)."""
    name = staff_time_zone_name(user_id=user_id)
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def staff_time_zone_set(*, user: Any, time_zone: str) -> StaffPreference:
    """Set the user's own zone (an IANA name; "" for the site's). Only the user sets it: the
    caller passes the signed-in user, never one named by the request. Raises ``ValueError``
    for a name that is not a known zone."""
    if time_zone and time_zone not in zoneinfo.available_timezones():
        raise ValueError(f"Unknown time zone: {time_zone!r}")
    key = _cache_key(user.pk)
    with transaction.atomic():
        preference, _ = StaffPreference.objects.update_or_create(
            user=user, defaults={"time_zone": time_zone}
        )
        cache.delete(key)
        # Again once committed: a request between the first delete and the commit may
        # have cached the old zone.
        transaction.on_commit(lambda: cache.delete(key))
    logger.info("Staff user %s shows times in %s", user.get_username(), time_zone or "UTC")
    return preference
