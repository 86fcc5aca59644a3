"""The Celery app that end-to-end tests run a real worker with (``celery -A
tests.fulfillment.e2e_helpers worker``): the project's app, tasks and settings, plus

- the default queue from ``E2E_DEFAULT_QUEUE`` (when set), so what the worker enqueues
  itself (delivery emails) goes to a queue of the test's own, which it can count;
- no remote control (no pidbox queues left in Redis by a worker that is killed);
- ``tests.e2e.process_due_at``: the scheduled dispatch (``fulfillment.services.dispatch.
  process_due``) run at a given time, so a test need not wait out a lease.

Only the worker imports this module: the test process talks to the broker with an app
of its own and leaves the project's app as it is.
"""

import datetime
import os

from config.celery import app

__all__ = ["app", "process_due_at"]

if os.environ.get("E2E_DEFAULT_QUEUE"):
    app.conf.task_default_queue = os.environ["E2E_DEFAULT_QUEUE"]
app.conf.worker_enable_remote_control = False


@app.task(name="tests.e2e.process_due_at", acks_late=True)
def process_due_at(now: str, batch_size: int = 100) -> str:
    """``fulfillment.process_supplier_orders`` as it runs at ``now`` (ISO 8601)."""
    from fulfillment.services import dispatch

    at = datetime.datetime.fromisoformat(now)
    return str(dispatch.process_due(now=at, batch_size=batch_size))
