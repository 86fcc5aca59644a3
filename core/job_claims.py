"""One run per period of a scheduled job, however many beats send it.

Celery beat sends a scheduled job's task when it is due. A second beat, started by
mistake or left running after a deploy, sends it too: both messages are valid and either
worker would run them. So a run sent by beat claims its job's period before its body runs,
and a run that finds the period claimed is skipped (recorded as such, with the task that
holds the claim):

- the claim is one row per job (``JobClaim``): the period its holder took and the holder's
  task id;
- a crontab job's period is its due time at or before the moment beat sent the run (a
  header the sender's process adds, ``SENT_AT_HEADER``): both beats send at the same due
  time, seconds apart, and a beat that sends late (it just started, its worker was busy)
  still names the period it meant;
- an interval job has no due times of its own (each beat counts from when it last sent
  it), so its period is the send time, and a run sent less than 0.9 of the interval after
  the holder's is the same period's: one beat never sends it sooner, and two beats out of
  step still give one run an interval;
- a run takes the claim with one conditional UPDATE, so two workers taking it at once get
  one winner (PostgreSQL re-reads the row after the first commits; SQLite has one writer):
  it wins when the claim is its own (a message redelivered after its worker died runs
  again) or when the claim holds an earlier period.

Runs started by staff (Run now) or by the system are never claimed or refused. No
session-level lock is held: behind PgBouncer in transaction pooling there is no session.
"""

import datetime
import logging
from typing import Any

from celery import Task
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core.models import JobClaim

logger = logging.getLogger(__name__)

# django-celery-beat's header on every task its scheduler sends (the job's name).
BEAT_HEADER = "periodic_task_name"
# When beat sent the run: set by the sender's process (core.job_runs), read by the worker.
SENT_AT_HEADER = "job_sent_at"
# In the result of a skipped run: the recorder marks the run skipped.
SKIPPED = "skipped"
INTERVAL_SHARE = 0.9
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class ScheduledTask(Task):
    """The base of every task (``config.celery``): a run sent by beat claims its period."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        refusal = period_refusal(self.request)
        if refusal is not None:
            logger.warning("%s skipped: %s", self.name, refusal)
            return {"rows": 0, "summary": refusal, SKIPPED: True}
        return super().__call__(*args, **kwargs)


def header(request: Any, name: str) -> Any:
    """A custom message header of the running task: in the request's headers dict (eager
    runs) or an attribute of the request (a worker copies every header onto it)."""
    headers = getattr(request, "headers", None) or {}
    value = headers.get(name) if isinstance(headers, dict) else None
    return value if value is not None else getattr(request, name, None)


def period_refusal(request: Any) -> str | None:
    """Why this run must not do its work (its period is another run's), or None to run."""
    job_name = header(request, BEAT_HEADER)
    task_id = getattr(request, "id", None)
    if not job_name or not task_id or getattr(request, "called_directly", True):
        return None
    sent_at = _sent_at(header(request, SENT_AT_HEADER)) or timezone.now()
    try:
        period = job_period(str(job_name), sent_at=sent_at)
        if period is None:
            return None
        holder = period_claim(
            job_name=str(job_name), task_id=str(task_id), period=period[0], after=period[1]
        )
    except Exception:  # a claim that cannot be made never stops the job: it is idempotent
        logger.exception("could not claim the period of %s", job_name)
        return None
    if holder is None:
        return None
    return (
        f"Skipped: the run of the period from {holder.period_at:%Y-%m-%d %H:%M:%S} UTC was "
        f"already sent by beat (task {holder.task_id}); is a second beat running?"
    )


def period_claim(
    *, job_name: str, task_id: str, period: datetime.datetime, after: datetime.datetime
) -> JobClaim | None:
    """Take ``job_name``'s ``period`` for the run ``task_id`` when the claim holds no
    period later than ``after``; None when taken, else the claim that holds it."""
    JobClaim.objects.bulk_create(
        [JobClaim(job_name=job_name, period_at=EPOCH, task_id="")], ignore_conflicts=True
    )
    taken = (
        JobClaim.objects.filter(job_name=job_name)
        .filter(Q(task_id=task_id) | Q(period_at__lte=after))
        .update(period_at=period, task_id=task_id)
    )
    if taken:
        return None
    return JobClaim.objects.filter(job_name=job_name).first() or JobClaim(
        job_name=job_name, period_at=period, task_id="?"
    )


def job_period(
    job_name: str, *, sent_at: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime] | None:
    """The period of a run of the job beat sent at ``sent_at``, and the latest period a
    claim may hold for this run to take it; None for a job without a period (solar,
    clocked, or no longer scheduled)."""
    job = PeriodicTask.objects.select_related("interval", "crontab").filter(name=job_name).first()
    if job is None:
        return None
    if job.interval is not None:
        return sent_at, sent_at - job.interval.schedule.run_every * INTERVAL_SHARE
    if job.crontab is None:
        return None
    due = _previous_due(job.crontab.schedule, sent_at.astimezone(job.crontab.timezone))
    due = due.astimezone(datetime.UTC)
    return due, due - datetime.timedelta(microseconds=1)


def _matches_day(cron: Any, day: datetime.datetime) -> bool:
    """Whether Celery's crontab ``cron`` is due on ``day`` (its day of month, month and
    day of week all match, as Celery reads them; Sunday is 0)."""
    return (
        day.month in cron.month_of_year
        and day.day in cron.day_of_month
        and day.isoweekday() % 7 in cron.day_of_week
    )


def _previous_due(cron: Any, at: datetime.datetime) -> datetime.datetime:
    """The last minute at or before ``at`` that ``cron`` is due."""
    day = at.replace(second=0, microsecond=0)
    for _ in range(8 * 366):
        if _matches_day(cron, day):
            for hour in sorted((h for h in cron.hour if h <= day.hour), reverse=True):
                for minute in sorted(cron.minute, reverse=True):
                    if hour < day.hour or minute <= day.minute:
                        return day.replace(hour=hour, minute=minute)
        day = (day - datetime.timedelta(days=1)).replace(hour=23, minute=59)
    raise ValueError("the crontab is never due")


def _sent_at(value: Any) -> datetime.datetime | None:
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
