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


MEMBER_DATA_EXPORT_MAKE = "customercare.member_data_export_make"
ACCOUNT_DELETION_NOTIFY = "customercare.account_deletion_notify"


def member_data_export_make(*, export_id: int) -> None:
    """Make the archive and email its link after the commit (the sweep does if this is
    lost)."""
    _after_commit(MEMBER_DATA_EXPORT_MAKE, export_id)


def account_deletion_notify(*, request_id: int) -> None:
    """Tell the member of the decision after the commit (the sweep does if this is lost)."""
    _after_commit(ACCOUNT_DELETION_NOTIFY, request_id)
