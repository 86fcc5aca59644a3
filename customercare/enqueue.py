"""Tasks the care writers start once their transaction commits.

The writers (services, escalation, notifications) are what the tasks call, so they
cannot import ``customercare.tasks`` without a cycle. They enqueue here instead, by the
task's registered name (``CustomerCareConfig.ready`` registers the tasks in every
process), and a rolled-back transaction sends nothing."""

from celery import current_app
from django.db import transaction

SEND_CARE_NOTIFICATION = "customercare.send_care_notification"


def _after_commit(task_name: str, *args: object) -> None:
    transaction.on_commit(lambda: current_app.tasks[task_name].delay(*args))


def care_notification_send(*, notification_id: int) -> None:
    """Send the notification after the commit (the sweep sends it if this is lost)."""
    _after_commit(SEND_CARE_NOTIFICATION, notification_id)
