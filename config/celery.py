"""The one Celery app. Settings come from Django's (``CELERY_*``); tasks are found in each app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Every task's base: a run sent by beat claims its job's period first (core.job_claims).
app = Celery("loyalty", task_cls="core.job_claims:ScheduledTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
