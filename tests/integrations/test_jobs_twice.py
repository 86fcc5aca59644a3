"""The integrations' scheduled job, run twice at the same moment on PostgreSQL and then
once more: each waiting delivery is processed once (tests/jobs_twice.py)."""

import datetime
import json
import threading
import time

import pytest
from django.db import transaction
from django.utils import timezone

from integrations import tasks
from integrations.models import InboxDelivery, InboxStatus
from loyalty.models import LedgerEntry, Member, Order
from merchants.services.stores import store_event_record
from tests.integrations.helpers import connected_store, sample
from tests.jobs_twice import covers, run, run_twice_at_once
from tests.loyalty.factories import member_make, program_merchant
from tests.loyalty.test_ledger_concurrency import wait_for_lock_waiters

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@covers(tasks.sweep_inbox)
def test_sweeping_the_inbox_twice_at_once_processes_each_waiting_delivery_once():
    merchant, _ = program_merchant()
    store, _ = connected_store(merchant, "shopify")
    arrived = timezone.now() - datetime.timedelta(minutes=10)
    for n in range(6):
        payload = sample("shopify/orders_create.json")
        payload.update(financial_status="paid", id=1000 + n, name=f"#{1000 + n}")
        payload["customer"].update(id=5000 + n, email=f"c{n}@example.com")
        # Stored, and its enqueue lost with the worker that took it.
        InboxDelivery.objects.create(
            merchant=merchant,
            store=store,
            platform="shopify",
            topic="orders/paid",
            delivery_id=f"d-{n}",
            body=json.dumps(payload),
            received_at=arrived + n * datetime.timedelta(seconds=1),
        )
    deliveries = InboxDelivery.objects.filter(store=store)
    first = member_make(merchant, "5000")
    # Heard from a moment ago: the orders' runs leave the store's row alone for a minute.
    store_event_record(store=store)
    outcome: dict = {}

    def sweeps() -> None:
        try:
            outcome["processed"] = run_twice_at_once(tasks.sweep_inbox)
        except Exception as error:  # reported below
            outcome["error"] = error

    # The run that takes the oldest delivery waits here on its member's row while the
    # other processes the rest; then the first goes on down the list it read at its start.
    with transaction.atomic():
        Member.objects.select_for_update().get(pk=first.pk)
        runner = threading.Thread(target=sweeps)
        runner.start()
        wait_for_lock_waiters(1)
        deadline = time.monotonic() + 20
        while deliveries.filter(status=InboxStatus.PROCESSED).count() < 5:
            assert time.monotonic() < deadline, "the other run never processed the rest"
            time.sleep(0.02)
    runner.join(timeout=60)

    assert "error" not in outcome, outcome
    assert sum(outcome["processed"]) == 6
    assert set(deliveries.values_list("status", "attempts")) == {(InboxStatus.PROCESSED, 1)}
    assert Order.objects.filter(merchant=merchant).count() == 6
    assert LedgerEntry.objects.filter(merchant=merchant).count() == 6
    done = sorted(deliveries.values_list("pk", "processed_at", "outcome"))
    assert run(tasks.sweep_inbox) == 0
    assert sorted(deliveries.values_list("pk", "processed_at", "outcome")) == done
