"""Delivery to a real local receiver: signed per Standard Webhooks, retried on the
schedule, once only, in each member's order; 410 and five days of failure disable."""

import datetime
import json

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from merchants.models import (
    DeliveryStatus,
    EndpointStatus,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from merchants.webhooks import delivery
from merchants.webhooks.address import Target
from merchants.webhooks.transport import post
from tests.loyalty.factories import member_make, points_give
from tests.merchants.webhooks.conftest import endpoint_make
from tests.portals.factories import portal_user

pytestmark = pytest.mark.django_db


def run(at: datetime.datetime) -> delivery.DispatchResult:
    return delivery.webhooks_dispatch(now=at)


def test_an_event_failing_three_times_arrives_once_signed_and_verifiable(shop, receiver):
    receiver.script = [500, 502, 429]
    endpoint, secret = endpoint_make(shop, receiver.url)
    member_make(shop, "cust-1", email="ann@example.com")
    now = timezone.now()

    run(now)
    (row,) = WebhookDelivery.objects.all()
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
    assert now + datetime.timedelta(seconds=5) <= row.next_attempt_at
    assert row.next_attempt_at <= now + datetime.timedelta(seconds=5.5)
    run(now + datetime.timedelta(seconds=2))  # not due yet
    assert len(receiver.received) == 1
    for _ in range(3):
        row.refresh_from_db()
        run(row.next_attempt_at)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 4)
    assert len(receiver.received) == 4
    run(row.next_attempt_at or now + datetime.timedelta(days=4))  # nothing more to send
    assert len(receiver.received) == 4

    last = receiver.received[-1]
    payload = Webhook(secret).verify(last.body, last.headers)
    assert payload["type"] == "member.created"
    assert payload["data"]["member"]["external_id"] == "cust-1"
    assert payload["data"]["member"]["email"] == "ann@example.com"
    event = OutboxEvent.objects.get(type="member.created")
    assert payload["sequence"] == event.pk
    assert last.headers["webhook-id"] == f"evt_{event.pk}"
    assert last.headers["webhook-signature"].startswith("v1,")
    # The same id and body on every attempt: the receiver can tell a retry.
    assert {r.headers["webhook-id"] for r in receiver.received} == {f"evt_{event.pk}"}
    assert {r.body for r in receiver.received} == {last.body}
    log = list(WebhookAttempt.objects.filter(endpoint=endpoint).order_by("number"))
    assert [a.response_status for a in log] == [500, 502, 429, 200]
    assert [a.succeeded for a in log] == [False, False, False, True]
    assert log[-1].response_body == "answer 200"
    assert json.loads(log[-1].request_body)["type"] == "member.created"
    assert log[0].request_headers["webhook-id"] == f"evt_{event.pk}"


def test_the_retry_schedule_spans_about_three_days_then_gives_up(shop, receiver):
    receiver.then = 503
    endpoint_make(shop, receiver.url)
    member_make(shop, "cust-1")
    at = timezone.now()
    run(at)
    waits = []
    row = WebhookDelivery.objects.get()
    while row.status == DeliveryStatus.PENDING:
        waits.append(row.next_attempt_at - row.last_attempt_at)
        run(row.next_attempt_at)
        row.refresh_from_db()
    assert row.status == DeliveryStatus.FAILED
    assert row.attempts == delivery.MAX_ATTEMPTS == 10
    assert len(receiver.received) == 10
    for wait, base in zip(waits, delivery.SCHEDULE, strict=True):
        assert base <= wait <= base * 1.1
    assert (
        datetime.timedelta(days=3) < sum(waits, datetime.timedelta()) < datetime.timedelta(days=3.5)
    )
    # Three days of failure are not five: the endpoint stays on.
    assert WebhookEndpoint.objects.get().status == EndpointStatus.ACTIVE


def test_the_retry_delays_have_jitter_within_ten_percent():
    import random

    rng = random.Random(7)
    delays = {delivery.retry_delay(1, rng) for _ in range(20)}
    assert len(delays) > 1
    assert all(
        datetime.timedelta(seconds=5) <= d <= datetime.timedelta(seconds=5.5) for d in delays
    )
    assert delivery.retry_delay(10) is None


def test_410_gone_disables_the_endpoint_and_emails_the_owners(
    shop, receiver, django_capture_on_commit_callbacks
):
    owner = portal_user(shop, "owner")
    portal_user(shop, "analyst")
    receiver.then = 410
    endpoint, _ = endpoint_make(shop, receiver.url)
    member_make(shop, "cust-1")
    member_make(shop, "cust-2")
    with django_capture_on_commit_callbacks(execute=True):
        run(timezone.now())
    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.DISABLED
    assert "410" in endpoint.disabled_reason
    assert len(receiver.received) == 1  # the other member's event is not sent
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.FAILED}
    (email,) = mail.outbox
    assert email.to == [owner.email]
    assert endpoint.url in email.body


def test_five_days_of_failure_disable_the_endpoint_and_email_the_owners(
    shop, receiver, django_capture_on_commit_callbacks
):
    owner = portal_user(shop, "owner")
    receiver.then = 500
    endpoint, _ = endpoint_make(shop, receiver.url)
    member_make(shop, "cust-1")
    now = timezone.now()
    run(now)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == now
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=now - datetime.timedelta(days=5)
    )
    member_make(shop, "cust-2")
    with django_capture_on_commit_callbacks(execute=True):
        run(now + datetime.timedelta(minutes=1))
    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.DISABLED
    assert "5 days" in endpoint.disabled_reason
    (email,) = mail.outbox
    assert email.to == [owner.email]


def test_a_success_ends_the_run_of_failures(shop, receiver):
    receiver.script = [500]
    endpoint_make(shop, receiver.url)
    member_make(shop, "cust-1")
    now = timezone.now()
    run(now)
    assert WebhookEndpoint.objects.get().failing_since is not None
    run(now + datetime.timedelta(seconds=10))
    assert WebhookEndpoint.objects.get().failing_since is None


def test_a_redirect_is_a_failure_and_is_not_followed(shop, receiver):
    receiver.then = 302
    receiver.headers = {"location": f"http://127.0.0.1:{receiver.port}/elsewhere"}
    endpoint_make(shop, receiver.url)
    member_make(shop, "cust-1")
    run(timezone.now())
    assert [r.path for r in receiver.received] == ["/hooks"]
    row = WebhookDelivery.objects.get()
    assert row.status == DeliveryStatus.PENDING
    assert "redirects are not followed" in row.last_error


def test_a_members_later_event_waits_for_the_earlier_one(
    shop, receiver, django_capture_on_commit_callbacks
):
    receiver.script = [500]
    endpoint_make(shop, receiver.url)
    ann = member_make(shop, "ann")
    points_give(ann, 10)  # ann's second event
    member_make(shop, "bob")  # someone else's event is not held back
    now = timezone.now()
    run(now)
    sent = [json.loads(r.body) for r in receiver.received]
    assert [(e["type"], e["data"]["member"]["external_id"]) for e in sent] == [
        ("member.created", "ann"),
        ("member.created", "bob"),
    ]
    # Once the first is delivered, the one waiting behind it goes at once.
    with django_capture_on_commit_callbacks(execute=True):
        run(now + datetime.timedelta(seconds=10))
    sent = [json.loads(r.body) for r in receiver.received]
    assert [(e["type"], e["data"]["member"]["external_id"]) for e in sent[2:]] == [
        ("member.created", "ann"),
        ("points.earned", "ann"),
    ]
    sequences = [e["sequence"] for e in sent if e["data"]["member"]["external_id"] == "ann"]
    assert sequences[-2] < sequences[-1]


def test_running_the_job_twice_sends_once(shop, receiver):
    endpoint_make(shop, receiver.url)
    member_make(shop, "cust-1")
    now = timezone.now()
    first = run(now)
    second = run(now)
    assert len(receiver.received) == 1
    assert first.outcomes == {"delivered": 1}
    assert second.events == 0
    assert second.outcomes == {}
    # A sender that finds it claimed or done sends nothing either.
    row = WebhookDelivery.objects.get()
    assert delivery.delivery_send(delivery_id=row.pk, now=now) == "not_due"
    assert WebhookDelivery.objects.count() == 1


def test_the_outbox_row_rolls_back_with_its_transaction(shop):
    def change_that_fails() -> None:
        with transaction.atomic():
            member_make(shop, "cust-1")
            assert OutboxEvent.objects.filter(type="member.created").count() == 1
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert not OutboxEvent.objects.filter(merchant=shop).exists()


def test_an_endpoint_hears_only_its_event_types_and_what_happens_after_it_was_added(shop, receiver):
    member_make(shop, "before")
    endpoint_make(shop, receiver.url, types=["points.earned"])
    ann = member_make(shop, "ann")
    points_give(ann, 5)
    run(timezone.now())
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["points.earned"]


def test_another_merchants_events_never_reach_the_endpoint(shop, receiver):
    from tests.loyalty.factories import program_merchant

    other, _ = program_merchant()
    endpoint_make(shop, receiver.url)
    member_make(other, "theirs")
    run(timezone.now())
    assert receiver.received == []


def test_the_request_goes_to_the_checked_address_with_the_name_as_host(receiver):
    target = Target(
        scheme="http",
        host="hooks.example.com",
        port=receiver.port,
        path="/hooks",
        address="127.0.0.1",
    )
    answer = post(target=target, headers={"x-test": "1"}, body=b"{}", timeout=5)
    assert answer.status == 200
    (got,) = receiver.received
    assert got.headers["host"] == f"hooks.example.com:{receiver.port}"


def test_the_send_refuses_an_address_that_became_unsafe(shop, receiver, settings):
    endpoint_make(shop, receiver.url)
    member_make(shop, "cust-1")
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    run(timezone.now())
    assert receiver.received == []
    (attempt,) = WebhookAttempt.objects.all()
    assert attempt.error.startswith("Refused:")
    assert "loopback" in attempt.error


def test_the_management_command_runs_the_job(shop, receiver):
    from io import StringIO

    from django.core.management import call_command

    endpoint_make(shop, receiver.url)
    member_make(shop, "cust-1")
    out = StringIO()
    call_command("deliver_webhooks", stdout=out)
    assert "1 delivered" in out.getvalue()
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    ("status", "header", "at_least", "at_most"),
    [
        (429, "120", 120, 133),
        (503, "7200", 7200, 7200 * 1.01),
        (429, "999999", 24 * 3600, 24 * 3600),  # capped at a day
        (429, "", 5, 5.5),  # none given: the schedule's 5 s
        (500, "120", 5, 5.5),  # only 429 and 503 ask for a pause
        (429, "soon", 5, 5.5),  # unreadable: ignored
    ],
)
def test_a_retry_after_is_honoured_up_to_a_day(shop, receiver, status, header, at_least, at_most):
    receiver.script = [status]
    receiver.headers = {"retry-after": header} if header else {}
    endpoint_make(shop, receiver.url)
    member_make(shop, "cust-1")
    now = timezone.now()
    run(now)
    row = WebhookDelivery.objects.get()
    assert row.status == DeliveryStatus.PENDING
    wait = (row.next_attempt_at - now).total_seconds()
    assert at_least <= wait <= at_most
    assert not run(now + datetime.timedelta(seconds=at_least - 1)).outcomes
    assert len(receiver.received) == 1
    run(now + datetime.timedelta(seconds=at_most + 1))
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED


def test_a_retry_after_date_is_read_as_a_date():
    from django.utils.http import http_date

    from merchants.webhooks.transport import retry_after

    now = timezone.now()
    later = now + datetime.timedelta(minutes=10)
    wait = retry_after(http_date(later.timestamp()), now)
    assert datetime.timedelta(minutes=9) < wait <= datetime.timedelta(minutes=10)
    assert retry_after(http_date((now - datetime.timedelta(minutes=1)).timestamp()), now) is None
    assert retry_after("Wed, 99 Foo 2026", now) is None
    assert retry_after(None, now) is None
