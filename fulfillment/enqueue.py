"""The fulfillment tasks a service queues, sent once the caller's transaction commits.

Named, not imported: the tasks call the services that queue them, so importing the task
functions here would close a cycle (services -> tasks -> services). ``FulfillmentConfig.
ready`` registers the tasks in every process. A message lost between the commit and the
broker is caught by the scheduled run (``process_supplier_orders`` places due orders and
queues the delivery emails a crash may have lost).
"""

from celery import current_app
from django.db import transaction

DISPATCH_REDEMPTION = "fulfillment.dispatch_redemption"
SEND_DELIVERY_EMAIL = "fulfillment.send_delivery_email"


def dispatch_when_committed(redemption_id: int) -> None:
    """Place the redemption's first supplier order as soon as it commits."""
    transaction.on_commit(lambda: dispatch_task_send(redemption_id))


def delivery_email_when_committed(redemption_id: int) -> None:
    """Email the member their claim link once the delivery commits (a task, so a mail
    server that is down delays the email, not the delivery)."""
    transaction.on_commit(lambda: delivery_email_task_send(redemption_id))


def dispatch_task_send(redemption_id: int) -> None:
    _send(DISPATCH_REDEMPTION, redemption_id)


def delivery_email_task_send(redemption_id: int) -> None:
    _send(SEND_DELIVERY_EMAIL, redemption_id)


def _send(task_name: str, *args: int) -> None:
    current_app.tasks[task_name].delay(*args)
