"""Thin tasks of fulfillment: each calls one idempotent function, as a named system actor.

Services queue them by name through ``fulfillment.enqueue``, never by importing this module.
"""

import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from core.actors import Actor
from core.jobs import job_result
from fulfillment.models import Redemption
from fulfillment.services import delivery, dispatch

# How long one scheduled run of process_supplier_orders keeps claiming batches: under the
# minute between two runs, so that the runs of a busy worker do not queue up behind one
# another, and far under the task's soft time limit (CELERY_TASK_SOFT_TIME_LIMIT, at
# most half of it), so that the order in hand when the budget ends still gets recorded.
RUN_BUDGET = datetime.timedelta(seconds=45)


def run_budget() -> datetime.timedelta:
    soft_limit = getattr(settings, "CELERY_TASK_SOFT_TIME_LIMIT", None)
    if not soft_limit:
        return RUN_BUDGET
    return min(RUN_BUDGET, datetime.timedelta(seconds=soft_limit / 2))


@shared_task(name="fulfillment.process_supplier_orders", acks_late=True)
def process_supplier_orders(batch_size: int = 100, budget_seconds: float | None = None) -> dict:
    """Scheduled: place, poll, reconcile and retry the supplier orders that are due, batch
    after batch for up to ``run_budget()`` (or ``budget_seconds``), and queue again the
    delivery emails a crash may have lost."""
    budget = run_budget() if budget_seconds is None else datetime.timedelta(seconds=budget_seconds)
    result = dispatch.process_due(
        now=timezone.now(),
        batch_size=batch_size,
        budget=budget,
        actor=Actor.system("process_supplier_orders"),
    )
    missing = delivery.unsent_deliveries_take(now=timezone.now())
    for redemption_id in missing:
        send_delivery_email.delay(redemption_id)
    return job_result(
        rows=result.claimed, summary=f"{result}; {len(missing)} delivery email(s) sent again"
    )


@shared_task(name="fulfillment.dispatch_redemption", acks_late=True)
def dispatch_redemption(redemption_id: int) -> str:
    """Enqueued when a redemption commits: its first order goes out at once."""
    return str(
        dispatch.process_due(
            now=timezone.now(),
            redemption_id=redemption_id,
            actor=Actor.system("dispatch_redemption"),
        )
    )


@shared_task(name="fulfillment.send_delivery_email", acks_late=True)
def send_delivery_email(redemption_id: int) -> str:
    """Enqueued when a redemption is delivered: the member gets the claim link (once)."""
    redemption = Redemption.objects.select_related("member", "reward").get(pk=redemption_id)
    delivery.delivery_email_send(
        redemption=redemption,
        base_url=settings.PUBLIC_BASE_URL,
        actor=Actor.system("send_delivery_email"),
    )
    return f"redemption {redemption_id}: {redemption.delivery_status}"
