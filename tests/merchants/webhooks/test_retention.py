"""Outbox events, their deliveries and attempts are kept WEBHOOK_EVENT_RETENTION_DAYS; the
changes feed refuses a cursor from before what was deleted."""

import datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from core.schedules import declared_periodic_tasks
from merchants.models import (
    DeliveryStatus,
    OutboxEvent,
    OutboxPurgeMark,
    WebhookAttempt,
    WebhookDelivery,
)
from merchants.webhooks import delivery, retention
from tests.conftest import assert_problem
from tests.loyalty.apihelpers import program_for
from tests.loyalty.factories import member_make, points_give, program_merchant
from tests.merchants.webhooks.conftest import endpoint_make

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
CHANGES = "/api/v1/members/changes/"


def age(events, days: int) -> None:
    OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).update(
        created_at=timezone.now() - days * DAY
    )


def test_old_events_go_with_their_deliveries_and_attempts_and_the_rest_stay(shop, receiver):
    receiver.script = [500]  # the first attempt fails: two attempts for the first event
    endpoint_make(shop, receiver.url)
    member = member_make(shop, "ann")
    for points in (1, 2, 3):
        points_give(member, points)
    now = timezone.now()
    for minute in range(6):  # a member's events go one after the other
        delivery.webhooks_dispatch(now=now + minute * datetime.timedelta(minutes=1))
    events = list(OutboxEvent.objects.filter(merchant=shop).order_by("id"))
    assert len(events) == 4
    assert not WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists()
    assert WebhookAttempt.objects.count() == 5
    old, kept = events[:3], events[3:]
    age(old, 36)
    # Another merchant's old event that is still being retried stays.
    other, _ = program_merchant(pending_days=0)
    receiver.then = 503
    endpoint_make(other, receiver.url)
    member_make(other, "bo")
    delivery.webhooks_dispatch(now=now + datetime.timedelta(minutes=7))
    waiting = OutboxEvent.objects.get(merchant=other)
    age([waiting], 40)

    purged = retention.outbox_purge(now=timezone.now(), batch_size=2)

    assert (purged.events, purged.deliveries, purged.attempts) == (3, 3, 4)
    assert list(OutboxEvent.objects.order_by("id")) == [*kept, waiting]
    assert set(WebhookDelivery.objects.values_list("event_id", flat=True)) == {
        kept[0].pk,
        waiting.pk,
    }
    assert WebhookAttempt.objects.filter(delivery__event__in=old).count() == 0
    assert OutboxPurgeMark.objects.get(merchant=shop).purged_through == old[-1].pk
    assert not OutboxPurgeMark.objects.filter(merchant=other).exists()
    assert str(purged) == "3 event(s), 3 deliveries and 4 attempt(s) deleted"
    # Again: nothing more.
    assert retention.outbox_purge(now=timezone.now()).events == 0


def test_the_feed_refuses_a_cursor_from_before_what_was_deleted(tenant):
    program_for(tenant.merchant)
    ann = member_make(tenant.merchant, "ann")
    points_give(ann, 5)
    first, second = OutboxEvent.objects.filter(merchant=tenant.merchant).order_by("id")
    age([first], 36)
    assert retention.outbox_purge(now=timezone.now()).events == 1
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=31)):
        body = assert_problem(
            tenant.client.get(CHANGES, {"since": first.pk - 1}), 410, "cursor_expired", "since"
        )
        assert "35 days" in body["errors"][0]["detail"]
        assert tenant.client.get(CHANGES, {"since": first.pk}).status_code == 200
        start = tenant.client.get(CHANGES, {"since": 0})
    assert start.status_code == 200
    assert [m["external_id"] for m in start.json()["results"]] == ["ann"]
    assert start.json()["results"][0]["sequence"] == second.pk


def test_the_job_is_scheduled_daily_and_runs_by_hand(shop):
    (spec,) = [s for s in declared_periodic_tasks() if s["task"] == "merchants.purge_outbox"]
    assert spec["crontab"] == "27 3 * * *"
    member_make(shop, "ann")
    age(list(OutboxEvent.objects.all()), 40)
    out = StringIO()
    call_command("purge_outbox", stdout=out)
    assert out.getvalue().startswith("1 event(s)")
    assert not OutboxEvent.objects.exists()
