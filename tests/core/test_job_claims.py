"""One run per period of a scheduled job, however many beats send it (core.job_claims): a
run beat sent claims its job's period before its body runs; another run beat sent for the
same period is skipped and recorded so; a redelivered message runs again; staff's Run now
is never refused. Eager runs carry beat's headers as a worker's would."""

import datetime
import threading
import uuid

import pytest
from celery import shared_task
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from core.job_claims import BEAT_HEADER, SENT_AT_HEADER, job_period, period_claim
from core.models import JobClaim, JobOutcome, JobRun, JobStarter

pytestmark = pytest.mark.django_db

BODY_RUNS: list[str] = []
T0 = datetime.datetime(2026, 12, 7, 10, 0, 1, tzinfo=datetime.UTC)


@shared_task(name="tests.core.claimed_job")
def claimed_job() -> str:
    BODY_RUNS.append("ran")
    return "did the work"


@pytest.fixture(autouse=True)
def _fresh_runs():
    BODY_RUNS.clear()


def job(name: str, *, crontab: str | None = None, every: int | None = None) -> PeriodicTask:
    schedule: dict = {}
    if crontab:
        minute, hour, day, month, weekday = crontab.split()
        schedule["crontab"], _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day,
            month_of_year=month,
            day_of_week=weekday,
            timezone="UTC",
        )
    else:
        schedule["interval"], _ = IntervalSchedule.objects.get_or_create(
            every=every, period=IntervalSchedule.SECONDS
        )
    return PeriodicTask.objects.create(name=name, task="tests.core.claimed_job", **schedule)


def beat_run(name: str, sent_at: datetime.datetime, task_id: str | None = None) -> JobRun:
    task_id = task_id or str(uuid.uuid4())
    claimed_job.apply(
        task_id=task_id, headers={BEAT_HEADER: name, SENT_AT_HEADER: sent_at.isoformat()}
    )
    return JobRun.objects.get(task_id=task_id)


def test_a_second_beats_run_of_the_same_minute_is_skipped_and_says_why():
    job("Every minute", crontab="* * * * *")
    first = beat_run("Every minute", T0)
    second = beat_run("Every minute", T0 + datetime.timedelta(seconds=3))

    assert BODY_RUNS == ["ran"]
    assert (first.outcome, first.summary) == (JobOutcome.SUCCEEDED, "did the work")
    assert second.outcome == JobOutcome.SKIPPED
    assert second.started_by == JobStarter.BEAT
    assert first.task_id in second.summary
    assert "second beat" in second.summary
    assert second.is_finished


def test_the_next_minutes_run_does_its_work():
    job("Every minute", crontab="* * * * *")
    beat_run("Every minute", T0)
    beat_run("Every minute", T0 + datetime.timedelta(seconds=59))

    assert BODY_RUNS == ["ran", "ran"]


def test_a_message_redelivered_after_its_worker_died_runs_again():
    job("Every minute", crontab="* * * * *")
    task_id = str(uuid.uuid4())
    beat_run("Every minute", T0, task_id=task_id)
    JobRun.objects.filter(task_id=task_id).delete()
    beat_run("Every minute", T0, task_id=task_id)

    assert BODY_RUNS == ["ran", "ran"]


def test_a_run_that_arrives_late_for_a_period_already_done_is_skipped():
    """Two beats' messages taken out of order: the older one, run second, is refused."""
    job("Every minute", crontab="* * * * *")
    beat_run("Every minute", T0 + datetime.timedelta(seconds=4))
    late = beat_run("Every minute", T0)

    assert BODY_RUNS == ["ran"]
    assert late.outcome == JobOutcome.SKIPPED


def test_an_interval_job_refuses_a_second_run_within_nine_tenths_of_its_interval():
    job("Heartbeat", every=60)
    beat_run("Heartbeat", T0)
    refused = beat_run("Heartbeat", T0 + datetime.timedelta(seconds=50))
    beat_run("Heartbeat", T0 + datetime.timedelta(seconds=55))

    assert refused.outcome == JobOutcome.SKIPPED
    assert BODY_RUNS == ["ran", "ran"]


def test_a_crontab_jobs_period_is_its_due_time():
    """Due at 09:00 and 10:00 each day: the 10:00 run is not refused for the 09:00 one."""
    job("Twice a morning", crontab="0 9,10 * * *")
    nine = datetime.datetime(2026, 12, 7, 9, 0, 2, tzinfo=datetime.UTC)
    due = nine.replace(second=0)

    assert job_period("Twice a morning", sent_at=nine) == (
        due,
        due - datetime.timedelta(microseconds=1),
    )
    beat_run("Twice a morning", nine)
    beat_run("Twice a morning", nine + datetime.timedelta(hours=1))
    assert BODY_RUNS == ["ran", "ran"]


def test_a_beat_that_sent_late_still_runs_the_next_due_time():
    """A beat that starts at 10:00:39 sends the every-minute job at once, and again at
    10:01:00, 21 s later: two periods, two runs."""
    job("Every minute", crontab="* * * * *")
    beat_run("Every minute", T0.replace(second=39))
    beat_run("Every minute", T0.replace(minute=1, second=0))
    late = beat_run("Every minute", T0.replace(minute=1, second=58))

    assert BODY_RUNS == ["ran", "ran"]
    assert late.outcome == JobOutcome.SKIPPED
    assert "10:01:00" in late.summary


def test_run_now_and_system_runs_are_never_refused():
    job("Every minute", crontab="* * * * *")
    beat_run("Every minute", T0)
    claimed_job.apply()
    claimed_job.apply(headers={"job_started_by_user_id": None})

    assert BODY_RUNS == ["ran", "ran", "ran"]
    assert JobClaim.objects.get().period_at == T0.replace(second=0)


def test_a_job_no_longer_scheduled_runs_as_sent():
    beat_run("Renamed since", T0)
    beat_run("Renamed since", T0 + datetime.timedelta(seconds=1))

    assert BODY_RUNS == ["ran", "ran"]
    assert not JobClaim.objects.exists()


def test_a_skipped_run_is_not_a_success_for_the_overdue_check():
    job("Every minute", crontab="* * * * *")
    beat_run("Every minute", T0)
    beat_run("Every minute", T0 + datetime.timedelta(seconds=2))

    assert JobRun.objects.filter(outcome=JobOutcome.SUCCEEDED).count() == 1
    assert JobRun.objects.filter(outcome=JobOutcome.SKIPPED).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_workers_claiming_one_period_at_once_get_one_winner():
    count = 8
    barrier = threading.Barrier(count)
    won: list[str] = []
    period = timezone.now().replace(second=0, microsecond=0)

    def claim(number: int) -> None:
        try:
            barrier.wait(timeout=30)
            holder = period_claim(
                job_name="Every minute",
                task_id=f"task-{number}",
                period=period,
                after=period - datetime.timedelta(microseconds=1),
            )
            if holder is None:
                won.append(f"task-{number}")
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(won) == 1
    assert JobClaim.objects.get(job_name="Every minute").task_id == won[0]
