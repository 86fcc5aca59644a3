"""Core's own scheduled job: keeping the job runs' log to its retention."""

from celery import shared_task
from django.utils import timezone

from core.job_runs import job_runs_prune


@shared_task(name="core.prune_job_runs", acks_late=True)
def prune_job_runs() -> int:
    """Daily: delete the job runs older than ``JOB_RUNS_KEEP_DAYS``; returns how many."""
    return job_runs_prune(now=timezone.now())
