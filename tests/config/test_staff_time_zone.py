"""Each staff user reads the admin's times in their own time zone, named, set from *Time
zone* in the account menu (``config.staff_time_zone``): the lists, the record pages, the
job runs and the home's job lines follow it; another user keeps UTC; a zone that is not
in the list is refused; nobody sets another's; the zone costs no query once cached; the
days that rules and shared figures count by stay the site's."""

import datetime
import uuid

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.staff_time_zone import StaffTimeZoneMiddleware
from core.jobs import scheduled_job_status
from core.models import JobOutcome, JobRun, JobStarter, OpsCount, StaffPreference
from core.ops_cards import week_counts
from core.site_time import site_today
from core.staff_preferences import staff_time_zone_name, staff_time_zone_set
from tests.loyalty.factories import member_make, points_give, program_merchant
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("admin:staff_time_zone")
LEDGER = reverse("admin:loyalty_ledgerentry_changelist")
RUNS = reverse("admin:core_jobrun_changelist")
# 15:45 UTC: 16:45 in Berlin (CET), 23:45 in Manila (PST, Philippine Standard Time).
MOMENT = datetime.datetime(2026, 12, 7, 15, 45, 3, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The zones are cached per user id: no test reads another's.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def entry():
    with time_machine.travel(MOMENT, tick=False):
        merchant, _ = program_merchant()
        return points_give(member_make(merchant), 250)


@pytest.fixture
def run():
    return JobRun.objects.create(
        task_id=str(uuid.uuid4()),
        task_name="core.prune_job_runs",
        job_name="Prune job runs",
        outcome=JobOutcome.SUCCEEDED,
        started_by=JobStarter.BEAT,
        started_at=MOMENT,
        finished_at=MOMENT + datetime.timedelta(seconds=4),
    )


def signed_in(client, **fields):
    user = StaffFactory(is_superuser=True, **fields)
    client.force_login(user)
    return user


def page_text(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_a_staff_user_sets_their_zone_and_reads_the_admins_times_in_it(client, entry, run):
    user = signed_in(client)
    form = page_text(client, PAGE)
    assert '<select name="time_zone"' in form
    assert '<optgroup label="Common">' in form
    assert "Europe/Berlin (UTC+01:00)" in form

    response = client.post(PAGE, {"time_zone": "Europe/Berlin"}, follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    assert "Times are now shown in Europe/Berlin." in response.content.decode()
    assert str(StaffPreference.objects.get(user=user).time_zone) == "Europe/Berlin"
    # The page shows the choice it saved.
    assert '<option value="Europe/Berlin" selected>' in response.content.decode()

    # A list's time column (core.admin.display.moment_column), its zone named.
    assert "Dec 7, 2026,<br>4:45 PM CET" in page_text(client, LEDGER)
    # A record page's read-only datetime (Django's display, DATETIME_FORMAT).
    record = page_text(client, reverse("admin:loyalty_ledgerentry_change", args=[entry.pk]))
    assert "Dec 7, 2026, 4:45 PM CET" in record
    # The job runs, to the second, in the list and on the run's page.
    assert "7 Dec 2026, 16:45:03 CET" in page_text(client, RUNS)
    assert "7 Dec 2026, 16:45:03 CET" in page_text(
        client, reverse("admin:core_jobrun_change", args=[run.pk])
    )
    # The scheduled jobs' list and a job's page, and the home's job lines.
    jobs = page_text(client, reverse("admin:django_celery_beat_periodictask_changelist"))
    assert "7 Dec 2026, 16:45:03 CET" in jobs
    job = PeriodicTask.objects.get(name="Prune job runs")
    page_text(client, reverse("admin:django_celery_beat_periodictask_change", args=[job.pk]))
    assert "Dec 7, 2026, 4:45 PM CET" in page_text(client, reverse("admin:index"))


def test_another_staff_user_still_reads_utc(client, entry, run):
    berlin = StaffFactory(is_superuser=True)
    staff_time_zone_set(user=berlin, time_zone="Europe/Berlin")
    signed_in(client)

    listed = page_text(client, LEDGER)
    assert "Dec 7, 2026,<br>3:45 PM UTC" in listed
    assert "CET" not in listed
    assert "7 Dec 2026, 15:45:03 UTC" in page_text(client, RUNS)


def test_a_zone_across_midnight_shows_the_readers_day(client, entry):
    signed_in(client)
    client.post(PAGE, {"time_zone": "Asia/Manila"})

    assert "Dec 7, 2026,<br>11:45 PM PST" in page_text(client, LEDGER)


def test_going_back_to_the_default_shows_utc_again(client, entry):
    user = signed_in(client)
    client.post(PAGE, {"time_zone": "Europe/Berlin"})
    assert "4:45 PM CET" in page_text(client, LEDGER)

    response = client.post(PAGE, {"time_zone": ""}, follow=True)
    assert "Times are now shown in UTC." in response.content.decode()
    assert staff_time_zone_name(user_id=user.pk) == ""
    assert "Dec 7, 2026,<br>3:45 PM UTC" in page_text(client, LEDGER)


# An unknown name, an old alias the list leaves out, a name with a NUL, a very long one.
@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "US/Eastern", "Europe/Berlin\x00", "Europe/" + "x" * 300]
)
def test_a_zone_that_is_not_in_the_list_is_refused_and_nothing_is_saved(client, zone):
    user = signed_in(client)

    response = client.post(PAGE, {"time_zone": zone})

    assert response.status_code == 200
    assert response.context["form"].errors == {"time_zone": ["Choose a time zone from the list."]}
    assert "Choose a time zone from the list." in response.content.decode()
    assert not StaffPreference.objects.exists()
    assert staff_time_zone_name(user_id=user.pk) == ""


def test_the_service_refuses_an_unknown_zone():
    user = StaffFactory()
    with pytest.raises(ValueError, match="Unknown time zone"):
        staff_time_zone_set(user=user, time_zone="Mars/Olympus_Mons")
    assert not StaffPreference.objects.exists()


def test_nobody_sets_another_users_zone(client):
    other = StaffFactory(is_superuser=True)
    user = signed_in(client)

    client.post(PAGE, {"time_zone": "Asia/Tokyo", "user": other.pk, "user_id": other.pk})

    assert staff_time_zone_name(user_id=user.pk) == "Asia/Tokyo"
    assert staff_time_zone_name(user_id=other.pk) == ""
    assert not StaffPreference.objects.filter(user=other).exists()


def test_the_page_is_for_signed_in_staff_only(client):
    login = reverse("admin:login")
    assert client.get(PAGE).url == f"{login}?next={PAGE}"
    assert client.post(PAGE, {"time_zone": "Europe/Berlin"}).url == f"{login}?next={PAGE}"
    assert not StaffPreference.objects.exists()

    # A signed-in user who is not staff (a merchant-portal user) is sent to sign in too.
    not_staff = StaffFactory(is_staff=False)
    client.force_login(not_staff)
    assert client.post(PAGE, {"time_zone": "Europe/Berlin"}).status_code == 302
    assert not StaffPreference.objects.exists()


def test_the_account_menu_links_to_the_page(client):
    signed_in(client)

    assert f'href="{PAGE}"' in page_text(client, reverse("admin:index"))


def test_a_list_costs_no_more_queries_in_a_zone(client, entry, django_assert_max_num_queries):
    user = signed_in(client)
    client.get(LEDGER)  # the sidebar's badges and the zone are cached once, not per page
    with CaptureQueriesContext(connection) as in_utc:
        client.get(LEDGER)
    # Counted now: the next request clears the connection's log of queries.
    queries_in_utc = len(in_utc)

    staff_time_zone_set(user=user, time_zone="Europe/Berlin")
    client.get(LEDGER)  # the zone is read once after it changed
    with django_assert_max_num_queries(queries_in_utc):
        assert "4:45 PM CET" in page_text(client, LEDGER)


def test_the_middleware_reads_the_zone_once_and_restores_the_sites_after(rf: RequestFactory):
    user = StaffFactory()
    staff_time_zone_set(user=user, time_zone="Asia/Manila")
    seen = []

    def view(request):
        seen.append(timezone.get_current_timezone_name())
        return HttpResponse()

    middleware = StaffTimeZoneMiddleware(view)
    request = rf.get("/admin/loyalty/ledgerentry/")
    request.user = user
    with CaptureQueriesContext(connection) as first:
        middleware(request)
    with CaptureQueriesContext(connection) as second:
        middleware(request)
    assert seen == ["Asia/Manila", "Asia/Manila"]
    assert len(first) == 1
    assert len(second) == 0
    assert timezone.get_current_timezone_name() == "UTC"

    # Outside the admin (the portals, the API) and for someone not staff: the site's.
    outside = rf.get("/portal/")
    outside.user = user
    middleware(outside)
    user.is_staff = False
    middleware(request)
    assert seen[2:] == ["UTC", "UTC"]


def test_the_days_rules_count_by_stay_the_sites_in_a_readers_zone():
    at = datetime.datetime(2026, 12, 7, 20, 0, tzinfo=datetime.UTC)  # Dec 8, 4 AM in Manila
    with timezone.override("Asia/Manila"):
        assert timezone.localdate(at) == datetime.date(2026, 12, 8)
        assert site_today(at) == datetime.date(2026, 12, 7)


def test_the_homes_week_and_the_jobs_late_flags_do_not_move_with_the_readers_zone(run):
    # Runs are recorded from now on; two days later the frequent jobs are late.
    at = timezone.now() + datetime.timedelta(days=2)
    yesterday = site_today(at) - datetime.timedelta(days=1)
    OpsCount.objects.create(key="care.sla", day=yesterday, value=7, taken_at=at)
    in_utc = [(job.name, job.overdue) for job in scheduled_job_status(now=at)]
    assert any(overdue for _, overdue in in_utc)

    # Kiritimati is 14 hours ahead: its day is the site's next one for most of the day.
    with timezone.override("Pacific/Kiritimati"):
        assert week_counts(["care.sla"], now=at) == {"care.sla": {yesterday: 7}}
        assert [(job.name, job.overdue) for job in scheduled_job_status(now=at)] == in_utc
