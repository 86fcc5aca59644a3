"""Each staff user reads the admin's times in their own time zone: an agent in Berlin sees
``Dec 7, 2026, 4:45 PM CET`` where one who kept the default sees ``3:45 PM UTC``. Every
time the admin shows names its zone, so a time copied into a ticket or a chat still means
one moment.

- The page *Time zone* (the account menu) sets the signed-in user's own zone; nobody sets
  another's (the page takes no user, only the session's).
- ``StaffTimeZoneMiddleware`` makes that zone the current one (``timezone.activate``) for
  the admin's requests of a signed-in staff user, and restores the site's after. Django's
  lists, record pages and forms then show times, and read the times typed into them, in
  that zone; the admin's own helpers (``core.admin.display.moment_text``, the home's job
  lines, the job runs) format in the current zone too. The days rules and shared figures
  count by stay the site's (``core.site_time``).
"""

import datetime
import functools
import zoneinfo
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from core import formatting
from core.staff_preferences import staff_time_zone, staff_time_zone_name, staff_time_zone_set

# Where config.urls mounts the admin.
ADMIN_PREFIX = "/admin/"
# Easy to find at the top of the list: where the provider's staff and merchants mostly are,
# west to east.
COMMON_ZONES = (
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Amsterdam",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Manila",
    "Asia/Tokyo",
    "Australia/Sydney",
)
# The IANA database's areas; its other names (US/Eastern, EST5EDT, Etc/GMT+5) are old
# aliases of these and only crowd the list.
AREAS = (
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)
SITE_ZONE_LABEL = "UTC, the back office's own (default)"


def zone_label(name: str, at: datetime.datetime) -> str:
    """``Europe/Berlin (UTC+01:00)``: the offset as it stands now."""
    offset = at.astimezone(zoneinfo.ZoneInfo(name)).strftime("%z")
    return f"{name.replace('_', ' ')} (UTC{offset[:3]}:{offset[3:]})"


@functools.cache
def area_zones() -> tuple[str, ...]:
    """Every zone of the areas, by name (read from the zone database once a process)."""
    return tuple(
        sorted(name for name in zoneinfo.available_timezones() if name.split("/", 1)[0] in AREAS)
    )


def zone_choices(at: datetime.datetime) -> list[tuple[str, Any]]:
    """The select's options: the site's zone, the common zones, then every zone by area."""
    names = area_zones()
    choices: list[tuple[str, Any]] = [
        ("", SITE_ZONE_LABEL),
        ("Common", [(name, zone_label(name, at)) for name in COMMON_ZONES]),
    ]
    for area in AREAS:
        in_area = [(name, zone_label(name, at)) for name in names if name.startswith(f"{area}/")]
        if in_area:
            choices.append((area, in_area))
    return choices


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Show times in",
        required=False,
        help_text="Lists, record pages and the home show times in this zone, with its name; "
        "times you type into a form are read in it too.",
        error_messages={"invalid_choice": "Choose a time zone from the list."},
    )

    def __init__(self, *args: Any, now: datetime.datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = zone_choices(now)


@never_cache
def page(request: HttpRequest, site: Any) -> HttpResponse:
    """The signed-in staff user's own zone: the select, Save, and the time now in it."""
    user = request.user
    now = timezone.now()
    form = TimeZoneForm(
        request.POST or None, now=now, initial={"time_zone": staff_time_zone_name(user_id=user.pk)}
    )
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["time_zone"]
        staff_time_zone_set(user=user, time_zone=chosen)
        shown = chosen.replace("_", " ") if chosen else "UTC"
        messages.success(request, f"Times are now shown in {shown}.")
        return HttpResponseRedirect(reverse("admin:staff_time_zone"))
    zone = staff_time_zone(user_id=user.pk) or timezone.get_default_timezone()
    return TemplateResponse(
        request,
        "admin/staff_time_zone.html",
        {
            **site.each_context(request),
            "title": "Time zone",
            "form": form,
            "now_text": formatting.moment(now, zone),
        },
    )


class StaffTimeZoneMiddleware:
    """The signed-in staff user's own zone for the admin's requests (after
    ``AuthenticationMiddleware``). No query once the zone is cached; none at all for a
    request outside the admin or by someone who is not staff."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = self.zone_of(request)
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            # A TemplateResponse is rendered inside this call, in the zone.
            return self.get_response(request)
        finally:
            timezone.deactivate()

    @staticmethod
    def zone_of(request: HttpRequest) -> datetime.tzinfo | None:
        if not request.path_info.startswith(ADMIN_PREFIX):
            return None
        user = getattr(request, "user", None)
        if user is None or not (user.is_authenticated and user.is_active and user.is_staff):
            return None
        return staff_time_zone(user_id=user.pk)


def account_link(request: HttpRequest) -> str:
    return reverse("admin:staff_time_zone")


def urls(site: Any) -> list:
    def bound(request: HttpRequest) -> HttpResponse:
        return page(request, site)

    return [path("time-zone/", site.admin_view(bound), name="staff_time_zone")]
