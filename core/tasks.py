"""Core's own scheduled jobs: keeping the job runs' log to its retention, and the ops
home's daily counts."""

from celery import shared_task
from django.utils import timezone

from core.job_runs import job_runs_prune
from core.ops_cards import snapshot_counts


@shared_task(name="core.prune_job_runs", acks_late=True)
def prune_job_runs() -> int:
    """Daily: delete the job runs older than ``JOB_RUNS_KEEP_DAYS``; returns how many."""
    return job_runs_prune(now=timezone.now())


@shared_task(name="core.snapshot_ops_cards", acks_late=True)
def snapshot_ops_cards() -> int:
    """Every quarter of an hour: each count card of the ops home as today's, for its
    trend; returns how many cards."""
    return snapshot_counts(now=timezone.now())
