"""Job runs: Celery's signals record every run of every task (who started it, when, the
outcome, rows touched, progress, the error and its traceback); staff read them in the
admin, run a scheduled job now from its list or page, and the Home card reads each job's
last run. The unit tests run Celery eagerly (no publish signal: the worker's signal writes
the row); the end-to-end test runs a real worker and beat."""

import datetime
import os
import time
import uuid

import pytest
from celery import shared_task
from celery.exceptions import Retry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from catalog import tasks as catalog_tasks
from core import jobs
from core.jobs import progress, scheduled_job_status
from core.models import JobOutcome, JobRun, JobStarter
from core.tasks import prune_job_runs
from tests.config.test_worker_e2e import (
    DEADLINE_SECONDS,
    WorkerAndBeat,
    database_url_of_the_test_database,
)
from tests.merchants.factories import StaffFactory, staff_in

pytestmark = pytest.mark.django_db

RUNS = reverse("admin:core_jobrun_changelist")
JOBS = reverse("admin:django_celery_beat_periodictask_changelist")
NOW = timezone.now()


# Tasks of the tests' own: one that fails, one that reports its progress.
@shared_task(name="tests.core.fails")
def fails() -> None:
    raise ValueError("the supplier answered 502\nsecond line of the message")


@shared_task(name="tests.core.counts")
def counts(total: int) -> dict:
    for done in range(0, total + 1, 5):
        progress(done, total)
        if done == 10:
            seen.append(JobRun.objects.values_list("progress_done", "progress_total").get())
    return jobs.job_result(rows=total, summary=f"{total} counted")


seen: list[tuple[int, int]] = []


@shared_task(bind=True, name="tests.core.retries")
def retries(self) -> None:
    raise self.retry(exc=ConnectionError("supplier down"), countdown=60)


def staff_with(*perms: str):
    user = StaffFactory(first_name="Ada", last_name="Ops")
    for dotted in perms:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def run_make(**fields) -> JobRun:
    defaults = {
        "task_id": str(uuid.uuid4()),
        "task_name": "loyalty.expire_points",
        "job_name": "Expire points",
        "outcome": JobOutcome.SUCCEEDED,
        "started_by": JobStarter.BEAT,
        "started_at": NOW - datetime.timedelta(seconds=184),
        "finished_at": NOW,
    }
    return JobRun.objects.create(**{**defaults, **fields})


# -- the signals ----------------------------------------------------------------------------


def test_a_task_run_records_its_outcome_rows_summary_and_duration():
    result = catalog_tasks.reprice_items.delay()

    run = JobRun.objects.get()
    assert run.task_id == result.id
    assert run.task_name == "catalog.reprice_items"
    assert (run.job_name, run.started_by, run.started_by_user) == ("", JobStarter.SYSTEM, None)
    assert run.outcome == JobOutcome.SUCCEEDED
    assert (run.rows, run.summary) == (0, "0 item(s) repriced")
    assert run.started_at <= run.finished_at
    assert run.duration == run.finished_at - run.started_at
    assert run.worker  # the host that ran it
    assert (run.error, run.traceback) == ("", "")


def test_a_failing_task_records_its_error_and_traceback():
    with pytest.raises(ValueError, match="502"):
        fails.delay()

    run = JobRun.objects.get()
    assert run.outcome == JobOutcome.FAILED
    assert run.error == "ValueError: the supplier answered 502"
    assert "Traceback" in run.traceback
    assert "second line of the message" in run.traceback
    assert run.finished_at is not None


def test_a_task_that_asks_to_be_retried_records_why():
    with pytest.raises(Retry):
        retries.delay()

    run = JobRun.objects.get()
    assert (run.outcome, run.error) == (JobOutcome.RETRYING, "ConnectionError: supplier down")


def test_a_running_task_records_its_progress_and_outside_a_task_progress_does_nothing():
    seen.clear()
    progress(1, 2)  # no task: no row, no error

    counts.delay(20)

    assert seen == [(10, 20)]  # in place while it ran
    run = JobRun.objects.get()
    assert (run.progress_done, run.progress_total) == (20, 20)
    assert (run.rows, run.summary) == (20, "20 counted")


def test_a_return_value_reports_rows_a_summary_or_both():
    assert jobs.job_report(12) == (12, "")
    assert jobs.job_report(True) == (None, "True")
    assert jobs.job_report("3 sent\nand more") == (None, "3 sent")
    assert jobs.job_report({"rows": 4, "summary": "4 lots"}) == (4, "4 lots")
    assert jobs.job_report(None) == (None, "")


# -- Run now --------------------------------------------------------------------------------


@pytest.fixture
def heartbeat() -> PeriodicTask:
    return PeriodicTask.objects.get(name="Worker heartbeat")  # registered on migrate


def test_run_now_from_the_list_records_the_staff_user_and_runs_once(client, heartbeat):
    user = staff_in("Operations")
    client.force_login(user)

    response = client.post(
        JOBS, {"action": "run_tasks", "index": "0", "_selected_action": [heartbeat.pk]}
    )

    run = JobRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:core_jobrun_change", args=[run.pk])
    assert (run.job_name, run.task_name) == ("Worker heartbeat", heartbeat.task)
    assert (run.started_by, run.started_by_user) == (JobStarter.STAFF, user)
    assert run.outcome == JobOutcome.SUCCEEDED


def test_run_now_from_the_page_asks_first_then_runs_once(client, heartbeat):
    user = staff_in("Operations")
    client.force_login(user)
    page = reverse("admin:django_celery_beat_periodictask_change", args=[heartbeat.pk])
    run_now = reverse("admin:django_celery_beat_periodictask_run_now", args=[heartbeat.pk])
    assert run_now in client.get(page).content.decode()

    asked = client.get(run_now)
    assert asked.status_code == 200
    assert "Run Worker heartbeat now?" in asked.content.decode()
    assert not JobRun.objects.exists()

    response = client.post(run_now, {"apply": "Confirm"})

    run = JobRun.objects.get()
    assert response["Location"] == reverse("admin:core_jobrun_change", args=[run.pk])
    assert (run.started_by, run.started_by_user, run.job_name) == (
        JobStarter.STAFF,
        user,
        "Worker heartbeat",
    )


def test_run_now_needs_the_right_to_change_the_scheduled_job(client, heartbeat):
    client.force_login(staff_with("django_celery_beat.view_periodictask", "core.view_jobrun"))
    page = reverse("admin:django_celery_beat_periodictask_change", args=[heartbeat.pk])
    run_now = reverse("admin:django_celery_beat_periodictask_run_now", args=[heartbeat.pk])

    assert run_now not in client.get(page).content.decode()
    assert client.get(run_now).status_code == 403
    assert client.post(run_now, {"apply": "Confirm"}).status_code == 403
    listed = client.post(
        JOBS, {"action": "run_tasks", "index": "0", "_selected_action": [heartbeat.pk]}
    )
    assert listed.status_code == 403
    assert not JobRun.objects.exists()


def test_the_scheduled_jobs_list_shows_each_jobs_last_run(
    client, heartbeat, django_assert_max_num_queries
):
    run_make(job_name=heartbeat.name, outcome=JobOutcome.SUCCEEDED)
    run_make(job_name=heartbeat.name, outcome=JobOutcome.FAILED, error="boom")
    client.force_login(staff_in("Operations"))

    client.get(JOBS)  # the sidebar's badges are counted once a minute, not per page
    with django_assert_max_num_queries(14):
        page = client.get(JOBS).content.decode()

    assert "Failed" in page
    assert "3 min 4 s" in page


# -- the admin of the runs -------------------------------------------------------------------


def test_the_list_of_runs_shows_them_for_people_in_a_pinned_number_of_queries(
    client, django_assert_max_num_queries
):
    ada = staff_with()
    for n in range(30):
        run_make(started_by=JobStarter.STAFF, started_by_user=ada, rows=1234567 + n)
    run_make(
        outcome=JobOutcome.FAILED,
        error="SupplierUnavailable: " + "the gift card supplier did not answer " * 3,
        rows=None,
    )
    run_make(outcome=JobOutcome.RUNNING, finished_at=None, progress_done=40, progress_total=200)
    client.force_login(staff_in("Operations"))

    client.get(RUNS)  # the sidebar's badges are counted once a minute, not per page
    with django_assert_max_num_queries(12):
        response = client.get(RUNS)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Ada Ops" in page
    assert "1,234,567" in page
    assert "3 min 4 s" in page
    assert "40 of 200" in page
    assert 'title="SupplierUnavailable: the gift card supplier' in page
    assert response.context["cl"].show_full_result_count is False


def test_the_runs_filter_by_outcome_job_and_who_started_them(client):
    run_make(job_name="Expire points", started_by=JobStarter.BEAT)
    run_make(job_name="", task_name="merchants.deliver_webhook", started_by=JobStarter.SYSTEM)
    failed = run_make(job_name="Recompute tiers", outcome=JobOutcome.FAILED)
    client.force_login(staff_in("Operations"))

    def listed(**query) -> list[JobRun]:
        return list(client.get(RUNS, query).context["cl"].result_list)

    assert listed(outcome="failed") == [failed]
    assert [r.task_name for r in listed(job="__ad_hoc__")] == ["merchants.deliver_webhook"]
    assert [r.job_name for r in listed(started_by="beat")] == ["Recompute tiers", "Expire points"]


def test_nobody_adds_changes_or_deletes_a_run(client):
    run = run_make()
    client.force_login(StaffFactory(is_superuser=True))

    assert client.get(reverse("admin:core_jobrun_add")).status_code == 403
    assert client.get(reverse("admin:core_jobrun_delete", args=[run.pk])).status_code == 403
    page = client.get(reverse("admin:core_jobrun_change", args=[run.pk])).content.decode()
    assert 'name="_save"' not in page


def test_the_traceback_shows_only_to_those_allowed_to_read_it(client):
    run = run_make(outcome=JobOutcome.FAILED, error="KeyError: 'pin'", traceback="Traceback: x")
    page = reverse("admin:core_jobrun_change", args=[run.pk])

    client.force_login(staff_with("core.view_jobrun"))
    shown = client.get(page).content.decode()
    assert "KeyError: &#x27;pin&#x27;" in shown
    assert "Traceback: x" not in shown

    client.force_login(staff_with("core.view_jobrun", "core.view_jobrun_traceback"))
    assert "Traceback: x" in client.get(page).content.decode()
    client.force_login(StaffFactory(is_superuser=True))
    assert "Traceback: x" in client.get(page).content.decode()


def test_a_running_runs_page_polls_its_state_until_it_is_finished(client):
    run = run_make(outcome=JobOutcome.RUNNING, finished_at=None, progress_done=5, progress_total=9)
    state = reverse("admin:core_jobrun_state", args=[run.pk])
    client.force_login(staff_in("Operations"))

    page = client.get(reverse("admin:core_jobrun_change", args=[run.pk])).content.decode()
    assert f'hx-get="{state}"' in page
    assert 'hx-trigger="every 2s"' in page
    assert "5 of 9" in page

    JobRun.objects.filter(pk=run.pk).update(
        outcome=JobOutcome.SUCCEEDED, progress_done=9, finished_at=timezone.now()
    )
    fragment = client.get(state)
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert "Succeeded" in text
    assert "hx-trigger" not in text  # the poll stops
    assert "<html" not in text

    client.force_login(staff_with())
    assert client.get(state).status_code == 403


# -- the Home card ----------------------------------------------------------------------------


def test_the_status_flags_a_failed_job_and_an_overdue_one_in_three_queries(
    django_assert_num_queries,
):
    PeriodicTask.objects.all().delete()
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    nightly = CrontabSchedule.objects.create(minute="30", hour="2", timezone="UTC")
    monthly = CrontabSchedule.objects.create(minute="5", hour="*", day_of_month="1", timezone="UTC")
    at = datetime.datetime(2026, 11, 11, 12, 0, tzinfo=datetime.UTC)
    long_ago = at - datetime.timedelta(days=20)
    for name, schedule in [
        ("Heartbeat", {"interval": every_minute}),
        ("Expire points", {"crontab": nightly}),
        ("Draft invoices", {"crontab": monthly}),
        ("Never ran", {"interval": every_minute}),
    ]:
        PeriodicTask.objects.create(name=name, task="x", **schedule)
    PeriodicTask.objects.update(date_changed=long_ago)
    PeriodicTask.objects.create(name="Switched off", task="x", interval=every_minute, enabled=False)

    def ran(name: str, finished: datetime.datetime, **fields) -> JobRun:
        started = finished - datetime.timedelta(seconds=184)
        return run_make(
            job_name=name, created_at=started, started_at=started, finished_at=finished, **fields
        )

    ran("Heartbeat", long_ago)  # recording began then
    ran("Heartbeat", at - datetime.timedelta(seconds=90))
    ran("Heartbeat", at - datetime.timedelta(seconds=30), outcome=JobOutcome.FAILED)
    ran("Expire points", at - datetime.timedelta(days=3))  # two nights missed
    # Hourly on the 1st: its last run of the month.
    ran("Draft invoices", datetime.datetime(2026, 11, 1, 23, 8, tzinfo=datetime.UTC))

    with django_assert_num_queries(3):
        status = {job.name: job for job in scheduled_job_status(now=at)}

    assert list(status) == ["Draft invoices", "Expire points", "Heartbeat", "Never ran"]
    heartbeat, expire = status["Heartbeat"], status["Expire points"]
    assert (heartbeat.failed, heartbeat.overdue, heartbeat.outcome) == (True, False, "Failed")
    assert heartbeat.duration == datetime.timedelta(seconds=184)
    assert (expire.failed, expire.overdue, expire.needs_attention) == (False, True, True)
    # Not overdue ten days after its last run: next due on 1 December.
    assert status["Draft invoices"].needs_attention is False
    assert (status["Never ran"].outcome, status["Never ran"].overdue) == ("Never run", True)


# -- retention --------------------------------------------------------------------------------


def test_the_prune_job_deletes_only_runs_past_their_retention(settings):
    settings.JOB_RUNS_KEEP_DAYS = 30
    old = run_make(created_at=NOW - datetime.timedelta(days=31))
    kept = run_make(created_at=NOW - datetime.timedelta(days=29))

    assert prune_job_runs.delay().get() == 1

    assert not JobRun.objects.filter(pk=old.pk).exists()
    assert JobRun.objects.filter(pk=kept.pk).exists()
    pruning = JobRun.objects.get(task_name="core.prune_job_runs")  # recorded like any job
    assert (pruning.outcome, pruning.rows) == (JobOutcome.SUCCEEDED, 1)


def test_the_prune_job_is_scheduled():
    job = PeriodicTask.objects.get(name="Prune job runs")
    assert (job.task, job.enabled) == ("core.prune_job_runs", True)


# -- a real worker and beat -------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_job_beat_sends_and_a_worker_runs_is_recorded_from_queued_to_succeeded(tmp_path):
    heartbeat = PeriodicTask.objects.get(name="Worker heartbeat")
    PeriodicTask.objects.exclude(pk=heartbeat.pk).update(enabled=False)
    # Due one interval after it was last changed: as if registered two minutes ago.
    PeriodicTask.objects.filter(pk=heartbeat.pk).update(
        date_changed=timezone.now() - datetime.timedelta(minutes=2)
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url_of_the_test_database(),
        "VAR_DIR": str(tmp_path / "var"),
        "CACHE_URL": f"filecache://{tmp_path / 'cache'}",
    }
    run = None
    started = time.time()
    with WorkerAndBeat(tmp_path, env) as celery:
        while time.time() - started < DEADLINE_SECONDS:
            celery.assert_running()
            run = JobRun.objects.filter(
                job_name="Worker heartbeat", outcome=JobOutcome.SUCCEEDED
            ).first()
            if run is not None:
                break
            time.sleep(0.5)
    output = celery.output

    assert run is not None, f"no recorded heartbeat within {DEADLINE_SECONDS}s\n{output}"
    assert run.task_name == "merchants.record_worker_heartbeat"
    assert (run.started_by, run.started_by_user) == (JobStarter.BEAT, None), output
    # Queued by beat's process (the publish signal), then started and finished by the
    # worker's.
    assert run.queued_at is not None, output
    assert run.queued_at <= run.started_at <= run.finished_at
    assert run.worker.startswith("celery@"), run.worker
    assert run.task_id in celery.logs["worker"].read_text()
