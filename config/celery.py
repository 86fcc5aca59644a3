"""The one Celery app. Settings come from Django's (``CELERY_*``); tasks are found in each app."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Every task's base: a run sent by beat claims its job's period first (core.job_claims).
app = Celery("loyalty", task_cls="core.job_claims:ScheduledTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _tune_the_collector(**kwargs) -> None:
    """As each web process does (config.wsgi): a job that builds thousands of ledger
    entries and events would otherwise spend a good part of its CPU in cycle collection.
    Tuned in the worker's main process, before its pool forks, so every child inherits it."""
    from core.collector import collector_tune

    collector_tune()
