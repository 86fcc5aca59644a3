"""The recorder of job runs: Celery's signals write a ``JobRun`` row for every task, in
whichever process sends the signal (the web or beat process that queues a task, the worker
that runs it).

- ``before_task_publish`` (the sender's process): the run is queued. It says who started
  it: staff (our ``STARTED_BY_USER_HEADER``, set by ``job_run_now``), beat
  (django-celery-beat's DatabaseScheduler puts ``periodic_task_name`` in the headers of
  every task it sends, ``schedulers.ModelEntry.__init__``), or the system.
- ``task_prerun`` (the worker): running, as an upsert. It reads the same headers, so a run
  whose queued row was never written (eager mode sends no publish signal; the sender's
  write failed or is still waiting for its transaction) gets its whole row here.
- ``task_success`` / ``task_failure`` / ``task_retry``: the outcome, with the rows and the
  summary the task reported (``core.jobs.job_report``) or the error and its traceback.
  ``task_internal_error`` too: an error outside the task's body, and the only signal of a
  failure when eager tasks propagate their errors (the test settings), where Celery
  re-raises before it sends ``task_failure``.

Each signal is one statement, an INSERT that ignores a row already there, an upsert, or an
UPDATE by task id, never a read followed by a write, so two processes never race over a
run. A write
that fails is logged and swallowed: bookkeeping never fails the task it records."""

import datetime
import json
import logging
import traceback as tb
from collections.abc import Callable
from typing import Any

from celery import current_app
from celery.exceptions import Retry
from celery.signals import (
    before_task_publish,
    task_failure,
    task_internal_error,
    task_prerun,
    task_retry,
    task_success,
)
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core.actors import Actor
from core.job_claims import BEAT_HEADER, SENT_AT_HEADER, SKIPPED
from core.jobs import job_report
from core.models import JobOutcome, JobRun, JobStarter

logger = logging.getLogger(__name__)

# The header that names the staff user who pressed Run now (a user id).
STARTED_BY_USER_HEADER = "job_started_by_user_id"
# Celery's own housekeeping tasks (chord_unlock, backend_cleanup) are not jobs.
UNRECORDED_PREFIX = "celery."


def connect() -> None:
    """Called once from ``CoreConfig.ready`` (the web, the worker and beat all load it)."""
    for signal, receiver in (
        (before_task_publish, _published),
        (task_prerun, _started),
        (task_success, _succeeded),
        (task_failure, _failed),
        (task_retry, _retrying),
        (task_internal_error, _internal_error),
    ):
        signal.connect(receiver, weak=False, dispatch_uid=f"core.job_runs.{receiver.__name__}")


def _recorded(task_name: str | None) -> bool:
    return bool(task_name) and not task_name.startswith(UNRECORDED_PREFIX)


def _write(what: str, task_id: str | None, write: Callable[[], Any]) -> None:
    """Run one bookkeeping statement; inside a transaction (an eager task in a service's
    atomic block) under a savepoint, so a failure leaves the caller's work intact."""
    if not task_id:
        return
    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                write()
        else:
            write()
    except Exception:
        logger.exception("could not record %s of task %s", what, task_id)


def _starter(headers: dict) -> dict[str, Any]:
    """Who started a run, from its message headers."""
    user_id = headers.get(STARTED_BY_USER_HEADER)
    job_name = str(headers.get(BEAT_HEADER) or "")[:200]
    if user_id:
        return {
            "started_by": JobStarter.STAFF,
            "started_by_user_id": int(user_id),
            "job_name": job_name,
        }
    if job_name:
        return {"started_by": JobStarter.BEAT, "job_name": job_name}
    return {"started_by": JobStarter.SYSTEM}


def _insert(run: JobRun) -> None:
    # ON CONFLICT DO NOTHING: the row of a retry, or of a run the worker wrote first.
    JobRun.objects.bulk_create([run], ignore_conflicts=True)


# -- the signals ---------------------------------------------------------------------------


def _published(sender: str | None = None, headers: dict | None = None, **kwargs) -> None:
    headers = headers or {}
    task_id = headers.get("id")
    if not _recorded(sender) or headers.get("retries"):
        return  # a retry's message: the run's row is there and task_retry marks it
    now = timezone.now()
    if headers.get(BEAT_HEADER):
        # When beat sent it: the worker claims the job's period with it (core.job_claims).
        headers.setdefault(SENT_AT_HEADER, now.isoformat())
    run = JobRun(
        task_id=task_id,
        task_name=sender,
        created_at=now,
        queued_at=now,
        outcome=JobOutcome.QUEUED,
        **_starter(headers),
    )
    connection = transaction.get_connection()
    if connection.in_atomic_block and not connection.get_autocommit():
        # Queued inside the caller's transaction: write after it commits, so the worker's
        # own write never waits on (or collides with) an uncommitted row. A rollback
        # leaves the run to the worker's row alone.
        transaction.on_commit(lambda: _write("the queueing", task_id, lambda: _insert(run)))
        return
    _write("the queueing", task_id, lambda: _insert(run))


def _request_headers(request: Any) -> dict:
    """The custom headers of a running task: a dict in eager mode, attributes of the
    request on a worker (Celery copies every message header onto it)."""
    headers = dict(getattr(request, "headers", None) or {})
    for name in (STARTED_BY_USER_HEADER, BEAT_HEADER):
        value = getattr(request, name, None)
        if value is not None:
            headers.setdefault(name, value)
    return headers


def _started(task_id: str | None = None, task: Any = None, **kwargs) -> None:
    if task is None or not _recorded(task.name):
        return
    request = task.request
    now = timezone.now()
    changes = {
        "outcome": JobOutcome.RUNNING,
        "started_at": now,
        "finished_at": None,
        "retries": request.retries or 0,
        "worker": (request.hostname or "")[:255],
    }

    run = JobRun(
        task_id=task_id,
        task_name=task.name,
        created_at=now,
        **changes,
        **_starter(_request_headers(request)),
    )
    # One upsert: the queued row moves to running, or the row is written now when there is
    # none (eager mode; a sender whose write failed or waits for its commit).
    _write(
        "the start",
        task_id,
        lambda: JobRun.objects.bulk_create(
            [run], update_conflicts=True, unique_fields=["task_id"], update_fields=list(changes)
        ),
    )


def _succeeded(sender: Any = None, result: Any = None, **kwargs) -> None:
    if sender is None or not _recorded(sender.name):
        return
    task_id = sender.request.id
    rows, summary = job_report(result)
    skipped = isinstance(result, dict) and result.get(SKIPPED) is True
    changes: dict[str, Any] = {
        "outcome": JobOutcome.SKIPPED if skipped else JobOutcome.SUCCEEDED,
        "finished_at": timezone.now(),
        "rows": rows,
        "summary": summary[:500],
        "error": "",
        "traceback": "",
    }
    _write("the success", task_id, lambda: JobRun.objects.filter(task_id=task_id).update(**changes))


def error_line(exception: BaseException | str) -> str:
    """The first line of an error, named by its type: what the list shows."""
    if isinstance(exception, str):
        text = exception
    else:
        message = str(exception).strip()
        text = type(exception).__name__ + (f": {message}" if message else "")
    lines = text.strip().splitlines()
    return lines[0][:500] if lines else ""


def _failed(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    einfo: Any = None,
    **kwargs,
) -> None:
    if sender is None or not _recorded(sender.name):
        return
    trace = getattr(einfo, "traceback", "") or ""
    if not trace and exception is not None:
        trace = "".join(tb.format_exception(exception))
    changes = {
        "outcome": JobOutcome.FAILED,
        "finished_at": timezone.now(),
        "error": error_line(exception) if exception is not None else "",
        "traceback": trace,
    }
    _write("the failure", task_id, lambda: JobRun.objects.filter(task_id=task_id).update(**changes))


def _retrying(
    sender: Any = None, request: Any = None, reason: Any = None, einfo: Any = None, **kwargs
) -> None:
    if sender is None or request is None or not _recorded(sender.name):
        return
    task_id = request.id
    changes = {
        "outcome": JobOutcome.RETRYING,
        "finished_at": timezone.now(),
        "error": error_line(reason if isinstance(reason, BaseException) else str(reason)),
        "traceback": getattr(einfo, "traceback", "") or "",
    }
    # Only while the row is still on this attempt: the next one may already have started
    # (a retry without countdown) and must not be marked retrying after the fact.
    attempt = JobRun.objects.filter(task_id=task_id, retries=request.retries or 0)
    _write(
        "the retry", task_id, lambda: attempt.filter(outcome=JobOutcome.RUNNING).update(**changes)
    )


def _internal_error(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    einfo: Any = None,
    **kwargs,
) -> None:
    if isinstance(exception, Retry):
        # An eager task's retry is raised to its caller, not run again: it stays retrying.
        changes = {
            "outcome": JobOutcome.RETRYING,
            "finished_at": timezone.now(),
            "error": error_line(exception.exc if exception.exc is not None else str(exception)),
        }
        running = JobRun.objects.filter(task_id=task_id, outcome=JobOutcome.RUNNING)
        _write("the retry", task_id, lambda: running.update(**changes))
        return
    _failed(sender=sender, task_id=task_id, exception=exception, einfo=einfo)


# -- staff: Run now --------------------------------------------------------------------------


class UnknownTask(Exception):
    """The scheduled job names a task no app defines (renamed, or a typo in the admin)."""


def job_run_now(*, periodic_task: PeriodicTask, actor: Actor) -> str:
    """Queue a scheduled job now, as beat would (its arguments, queue and headers), with
    the staff user recorded as who started it. Returns the Celery task id of the run."""
    app = current_app
    app.loader.import_default_modules()
    task = app.tasks.get(periodic_task.task)
    if task is None:
        raise UnknownTask(periodic_task.task)
    options = {
        option: getattr(periodic_task, option)
        for option in ("queue", "exchange", "routing_key", "priority")
        if getattr(periodic_task, option) not in (None, "")
    }
    if actor.kind != "staff" or actor.user is None:
        raise TypeError("Run now is a staff user's: Actor.staff(request.user)")
    headers = {
        **json.loads(periodic_task.headers or "{}"),
        BEAT_HEADER: periodic_task.name,
        STARTED_BY_USER_HEADER: actor.user.pk,
    }
    result = task.apply_async(
        args=json.loads(periodic_task.args or "[]"),
        kwargs=json.loads(periodic_task.kwargs or "{}"),
        headers=headers,
        **options,
    )
    return result.id


def job_runs_prune(*, now: datetime.datetime, batch_size: int = 5000) -> int:
    """Delete the runs older than ``JOB_RUNS_KEEP_DAYS``, a batch at a time (a short
    statement each, however long the table grew). Returns how many were deleted."""
    cutoff = now - datetime.timedelta(days=settings.JOB_RUNS_KEEP_DAYS)
    deleted = 0
    while True:
        ids = list(
            JobRun.objects.filter(created_at__lt=cutoff)
            .order_by("created_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += JobRun.objects.filter(pk__in=ids).delete()[0]
