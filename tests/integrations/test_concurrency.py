"""Deliveries racing each other on PostgreSQL: the same event posted at once by several
connections, the same order under several events, and two workers on one delivery."""

import threading

import pytest
from django.db import connections

from integrations.models import InboxDelivery, InboxStatus
from integrations.services import delivery_process
from loyalty.models import LedgerEntry, Order
from tests.integrations.helpers import connected_store, member_of, sample, shopify_post
from tests.loyalty.factories import assert_ledger_consistent, program_merchant

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def paid():
    payload = sample("shopify/orders_create.json")
    payload["financial_status"] = "paid"
    return payload


def at_once(count, work):
    barrier = threading.Barrier(count)
    answers, errors = [], []

    def run(number):
        try:
            barrier.wait()
            answers.append(work(number))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return answers


def test_one_event_posted_by_eight_connections_at_once_is_stored_and_earned_once():
    merchant, _ = program_merchant()
    store, secret = connected_store(merchant, "shopify")
    body = paid()
    answers = at_once(
        8, lambda _: shopify_post(store, secret, "orders/paid", body, event_id="same").json()
    )
    assert sorted(a["status"] for a in answers) == ["accepted"] + ["duplicate"] * 7
    assert InboxDelivery.objects.filter(store=store).count() == 1
    assert Order.objects.filter(merchant=merchant).count() == 1
    assert assert_ledger_consistent(member_of(merchant, 115310627314723954)).points_balance == 394


def test_one_order_under_eight_events_at_once_earns_once():
    merchant, _ = program_merchant()
    store, secret = connected_store(merchant, "shopify")
    body = paid()
    at_once(8, lambda n: shopify_post(store, secret, "orders/paid", body, event_id=f"e{n}"))
    assert InboxDelivery.objects.filter(store=store, status=InboxStatus.PROCESSED).count() == 8
    assert Order.objects.filter(merchant=merchant).count() == 1
    assert LedgerEntry.objects.filter(merchant=merchant).count() == 1
    assert_ledger_consistent(member_of(merchant, 115310627314723954))


def test_two_workers_on_one_delivery_process_it_once():
    merchant, _ = program_merchant()
    store, _ = connected_store(merchant, "shopify")
    import json

    delivery = InboxDelivery.objects.create(
        merchant=merchant,
        store=store,
        platform="shopify",
        topic="orders/paid",
        delivery_id="one",
        body=json.dumps(paid()),
    )
    results = at_once(2, lambda _: delivery_process(delivery_id=delivery.pk))
    delivery.refresh_from_db()
    assert delivery.status == InboxStatus.PROCESSED
    # One worker processed it; the other skipped the locked row or found it recorded.
    assert delivery.attempts in (1, 2)
    assert any(result is not None for result in results)
    assert Order.objects.filter(merchant=merchant).count() == 1
