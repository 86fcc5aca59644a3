"""Job runs: one row per run of a Celery task, scheduled or not, written by the task
machinery itself (``core.job_runs``), never by the task. Staff read them in the admin
(*Job runs*) and the Home page reads the last run of each scheduled job
(``core.jobs.scheduled_job_status``).

A run is keyed by its Celery task id: a retry or a redelivery after a lost worker runs
the same id again, so it moves the same row back to running rather than adding one. Rows
are kept ``JOB_RUNS_KEEP_DAYS`` (``core.prune_job_runs``); the table is a log, not a
record anything else points to."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from timezone_field import TimeZoneField


class JobOutcome(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    RETRYING = "retrying", "Retrying"
    # Sent by beat for a period another run of the job already has (core.job_claims).
    SKIPPED = "skipped", "Skipped (a second beat)"


FINISHED_OUTCOMES = (JobOutcome.SUCCEEDED, JobOutcome.FAILED, JobOutcome.SKIPPED)


class JobStarter(models.TextChoices):
    BEAT = "beat", "Beat"  # the schedule (django-celery-beat)
    STAFF = "staff", "Staff"  # Run now, by the user in ``started_by_user``
    SYSTEM = "system", "System"  # a service or another task enqueued it


class JobRun(models.Model):
    task_id = models.CharField("Celery task id", max_length=255, unique=True)
    task_name = models.CharField(max_length=200)
    # The scheduled job's name (django-celery-beat's PeriodicTask.name), copied rather
    # than a foreign key: a job renamed or deleted keeps its history. Blank for a task a
    # service enqueued on its own.
    job_name = models.CharField(max_length=200, blank=True)
    started_by = models.CharField(
        max_length=10, choices=JobStarter.choices, default=JobStarter.SYSTEM
    )
    started_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=JobOutcome.choices)
    retries = models.PositiveIntegerField(default=0)
    rows = models.BigIntegerField("rows touched", null=True, blank=True)
    progress_done = models.BigIntegerField(null=True, blank=True)
    progress_total = models.BigIntegerField(null=True, blank=True)
    # What the task returned, when it said something in words (one line).
    summary = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    traceback = models.TextField(blank=True)
    worker = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "job run"
        # Runs are written by the task machinery alone: staff only read them.
        default_permissions = ("view",)
        permissions = [("view_jobrun_traceback", "Can view the traceback of a failed job run")]
        indexes = [
            # The newest run of each job (the Home card, the scheduled jobs' list) and a
            # job's runs, newest first (the list filtered to one job).
            models.Index(fields=["job_name", "-id"], name="job_run_last_per_job"),
            # The last success of each job: whether it is overdue.
            models.Index(
                fields=["job_name", "-id"],
                condition=Q(outcome="succeeded"),
                name="job_run_last_success",
            ),
            models.Index(fields=["created_at"], name="job_run_prune"),
        ]

    def __str__(self) -> str:
        return f"{self.job_name or self.task_name} ({self.get_outcome_display().lower()})"

    @property
    def is_finished(self) -> bool:
        return self.outcome in FINISHED_OUTCOMES

    @property
    def began_at(self) -> datetime.datetime:
        """When the run started, or was queued or first seen while it has not."""
        return self.started_at or self.queued_at or self.created_at

    @property
    def duration(self) -> datetime.timedelta | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class OpsCount(models.Model):
    """A count of the ops home's cards as it stood at the end of a day (the day's last
    snapshot): the week drawn under a card whose figure has no history of its own. Written
    by ``core.snapshot_ops_cards``; never a source of truth, deleting it costs a week's
    trend."""

    key = models.CharField(max_length=60, help_text="The card's key, e.g. care.sla.")
    day = models.DateField()
    value = models.BigIntegerField()
    taken_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "day"], name="ops_count_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.key} on {self.day}: {self.value}"


class StaffPreference(models.Model):
    """What a staff user chose for their own admin: the time zone its times are shown in
    (blank: the site's, UTC). Each staff user sets their own from the account menu (*Time
    zone*, ``config.staff_time_zone``); read once a request through a per-user cache
    (``core.staff_preferences``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_preference"
    )
    time_zone = TimeZoneField(use_pytz=False, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "staff preference"
        # Nobody edits another's: there is no admin of these rows, hence no permissions.
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.user_id}: {self.time_zone or 'UTC'}"


class JobClaim(models.Model):
    """Which run of a scheduled job holds its current period (core.job_claims): the
    period's start (a crontab job's due time, an interval job's send time) and the run's
    task id. One row per job, written by the workers alone."""

    job_name = models.CharField(max_length=200, primary_key=True)
    period_at = models.DateTimeField()
    task_id = models.CharField("Celery task id", max_length=255, blank=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.job_name} ({self.task_id})"
