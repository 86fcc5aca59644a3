"""What a task tells its job run, and how the scheduled jobs are doing.

A task reports through its return value, which the recorder (``core.job_runs``) reads when
it succeeds:

- an ``int``: the rows it touched;
- a ``str``: a one-line summary in words;
- ``job_result(rows=..., summary=...)``, a dict with both (``{"rows": 12, "summary":
  "12 lot(s) released"}``), JSON like every task result.

A long task calls ``progress(done, total)`` once a batch (not once a row: each call is an
UPDATE) and the run's page shows "done of total" while it runs. Outside a task (a
management command, a test calling the function) it does nothing.

``scheduled_job_status()`` is the Home page's Jobs card: every enabled scheduled job with
its last run, and whether it failed or is overdue."""

import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from celery import current_task
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core.models import JobOutcome, JobRun

logger = logging.getLogger(__name__)


def job_result(*, rows: int, summary: object = "") -> dict[str, Any]:
    """What a task returns to record both the rows it touched and its summary."""
    return {"rows": int(rows), "summary": str(summary)}


def job_report(result: object) -> tuple[int | None, str]:
    """The rows touched and the summary a task's return value reports (see above)."""
    if isinstance(result, bool):  # an int, but a yes or no rather than a count
        return None, str(result)
    if isinstance(result, int):
        return result, ""
    if isinstance(result, str):
        return None, first_line(result)
    if isinstance(result, Mapping):
        rows = result.get("rows")
        rows = rows if isinstance(rows, int) and not isinstance(rows, bool) else None
        return rows, first_line(str(result.get("summary") or ""))
    return None, ""


def first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def progress(done: int, total: int | None = None) -> None:
    """Record how far the running task is (``done`` of ``total``) on its run."""
    task = current_task
    request = getattr(task, "request", None)
    if request is None or request.id is None or request.called_directly:
        return
    try:
        JobRun.objects.filter(task_id=request.id).update(progress_done=done, progress_total=total)
    except Exception:  # bookkeeping never fails the task
        logger.exception("could not record the progress of task %s", request.id)


# -- the Home page's Jobs card ---------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledJobStatus:
    periodic_task_id: int
    name: str
    task: str
    last_run: JobRun | None
    # No successful run for two of the job's periods (interval and crontab jobs only).
    overdue: bool

    @property
    def outcome(self) -> str:
        """The last run's outcome in words, "Never run" when there is none."""
        return self.last_run.get_outcome_display() if self.last_run else "Never run"

    @property
    def started_at(self) -> datetime.datetime | None:
        return self.last_run.began_at if self.last_run else None

    @property
    def duration(self) -> datetime.timedelta | None:
        return self.last_run.duration if self.last_run else None

    @property
    def failed(self) -> bool:
        return self.last_run is not None and self.last_run.outcome == JobOutcome.FAILED

    @property
    def needs_attention(self) -> bool:
        """Shown in red."""
        return self.failed or self.overdue


def scheduled_job_status(*, now: datetime.datetime | None = None) -> list[ScheduledJobStatus]:
    """Every enabled scheduled job by name, with its last run. Three queries whatever the
    number of jobs: the jobs with the ids of their last run and last success (subqueries
    on the job's index), those runs, and when recording began."""
    now = now or timezone.now()
    runs = JobRun.objects.filter(job_name=OuterRef("name")).order_by("-id")
    tasks = list(
        PeriodicTask.objects.filter(enabled=True)
        .select_related("interval", "crontab")
        .annotate(
            last_run_id=Subquery(runs.values("pk")[:1]),
            last_success_at=Subquery(
                runs.filter(outcome=JobOutcome.SUCCEEDED).values("finished_at")[:1]
            ),
        )
        .order_by("name")
    )
    last_runs = JobRun.objects.in_bulk([t.last_run_id for t in tasks if t.last_run_id])
    # Before the first recorded run there is no record of success to go by: a job counts
    # from then, or from when it was created or last changed, whichever is later.
    first = JobRun.objects.order_by("pk").values_list("created_at", flat=True).first()
    recording_since = first or now
    return [
        ScheduledJobStatus(
            periodic_task_id=task.pk,
            name=task.name,
            task=task.task,
            last_run=last_runs.get(task.last_run_id),
            overdue=_overdue(
                task,
                since=task.last_success_at or max(task.date_changed, recording_since),
                now=now,
            ),
        )
        for task in tasks
    ]


# A job is late once its second due time since its last success passed by this much more
# (a busy worker starts a job a little after its time).
GRACE = datetime.timedelta(minutes=5)


def _overdue(task: PeriodicTask, *, since: datetime.datetime, now: datetime.datetime) -> bool:
    """Whether the job should have run twice since ``since`` by now. Counting due times
    rather than twice a period holds for irregular schedules too: a job hourly on the 1st
    is not overdue on the 15th."""
    if task.interval is None and task.crontab is None:
        return False  # solar and one-off clocked jobs have no period
    schedule = task.schedule

    def due_after(moment: datetime.datetime) -> datetime.datetime:
        # remaining_estimate(t) is the time from the schedule's own clock to the first due
        # time after t.
        return schedule.now() + schedule.remaining_estimate(moment)

    try:
        second_due = due_after(due_after(since))
    except (ValueError, OverflowError):
        logger.warning("cannot tell when %s is due", task.name, exc_info=True)
        return False
    return second_due + GRACE < now
