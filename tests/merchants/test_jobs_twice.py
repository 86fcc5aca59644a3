"""The merchants app's scheduled jobs, each run twice at the same moment on PostgreSQL and
then once more: their effects happen once (tests/jobs_twice.py)."""

import datetime
import time

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from merchants.models import (
    DeliveryStatus,
    IdempotencyRecord,
    Invoice,
    MonthlyReport,
    OutboxEvent,
    OutboxPurgeMark,
    WebhookAttempt,
    WebhookDelivery,
)
from merchants.tasks import (
    WORKER_HEARTBEAT_CACHE_KEY,
    dispatch_webhooks,
    draft_invoices,
    produce_monthly_reports,
    purge_idempotency_records,
    purge_outbox,
    record_worker_heartbeat,
)
from merchants.webhooks import delivery
from tests.jobs_twice import covers, run, run_twice_at_once
from tests.loyalty.factories import member_make, program_merchant
from tests.merchants.factories import MerchantFactory, fee_plan_make
from tests.merchants.webhooks.conftest import endpoint_make, receiver  # noqa: F401
from tests.portals.factories import portal_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@covers(record_worker_heartbeat)
def test_the_heartbeat_twice_at_once_leaves_one_recent_beat():
    cache.delete(WORKER_HEARTBEAT_CACHE_KEY)
    before = time.time()

    run_twice_at_once(record_worker_heartbeat)

    beat = cache.get(WORKER_HEARTBEAT_CACHE_KEY)
    assert before <= beat <= time.time()
    run(record_worker_heartbeat)
    assert beat <= cache.get(WORKER_HEARTBEAT_CACHE_KEY) <= time.time()


@covers(purge_idempotency_records)
def test_purging_idempotency_records_twice_at_once_deletes_each_expired_one_once():
    merchant = MerchantFactory(live=True)
    now = timezone.now()
    for n, hours in enumerate((-48, -2, -1, 1, 24)):
        IdempotencyRecord.objects.create(
            merchant=merchant,
            key=f"k-{n}",
            method="POST",
            path="/api/v1/members/",
            request_hash="0" * 64,
            status_code=201,
            response_bytes=b"{}",
            content_type="application/json",
            created_at=now - datetime.timedelta(days=3),
            expires_at=now + datetime.timedelta(hours=hours),
        )

    deleted = run_twice_at_once(purge_idempotency_records)

    assert sum(deleted) == 3
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["k-3", "k-4"]
    assert run(purge_idempotency_records) == 0
    assert IdempotencyRecord.objects.count() == 2


@covers(produce_monthly_reports)
def test_monthly_reports_twice_at_once_make_one_report_and_one_email_per_merchant():
    merchants = [program_merchant()[0] for _ in range(2)]
    for merchant in merchants:
        portal_user(merchant, "owner", totp=False)
    mail.outbox.clear()

    summaries = run_twice_at_once(produce_monthly_reports)

    assert all(summary.endswith(", 0 failed") for summary in summaries), summaries
    reports = MonthlyReport.objects.filter(is_final=True)
    assert sorted(reports.values_list("merchant_id", flat=True)) == [m.pk for m in merchants]
    assert sorted(address for message in mail.outbox for address in message.to) == sorted(
        merchant.memberships.get().user.email for merchant in merchants
    )
    made = sorted(reports.values_list("pk", "generated_at", "notified_at"))
    assert run(produce_monthly_reports).endswith("0 emails, 0 failed")
    assert sorted(reports.values_list("pk", "generated_at", "notified_at")) == made
    assert len(mail.outbox) == 2


@covers(dispatch_webhooks)
def test_dispatching_webhooks_twice_at_once_delivers_each_event_once(receiver):  # noqa: F811
    shop, _ = program_merchant()
    endpoint, _secret = endpoint_make(shop, receiver.url)
    for n in range(6):
        member_make(shop, f"cust-{n}")
    events = set(OutboxEvent.objects.filter(merchant=shop).values_list("pk", flat=True))
    assert len(events) == 6

    run_twice_at_once(dispatch_webhooks)

    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert sorted(deliveries.values_list("event_id", flat=True)) == sorted(events)
    assert set(deliveries.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
        f"evt_{pk}" for pk in events
    )
    assert WebhookAttempt.objects.count() == 6
    run(dispatch_webhooks)
    assert deliveries.count() == 6
    assert len(receiver.received) == WebhookAttempt.objects.count() == 6


@covers(purge_outbox)
def test_purging_the_outbox_twice_at_once_deletes_each_old_event_once(settings, receiver):  # noqa: F811
    shops = [program_merchant()[0] for _ in range(2)]
    for shop in shops:
        endpoint_make(shop, receiver.url)
        for n in range(3):
            member_make(shop, f"cust-{n}")
    delivery.webhooks_dispatch(now=timezone.now())
    assert WebhookAttempt.objects.count() == 6
    newest = OutboxEvent.objects.order_by("-pk").first()
    old = OutboxEvent.objects.exclude(pk=newest.pk)
    days = settings.WEBHOOK_EVENT_RETENTION_DAYS + 1
    old.update(created_at=timezone.now() - datetime.timedelta(days=days))
    old_ids = {event.pk: event.merchant_id for event in old}

    purged = run_twice_at_once(purge_outbox)

    assert sum(result["rows"] for result in purged) == 3 * 5
    assert list(OutboxEvent.objects.values_list("pk", flat=True)) == [newest.pk]
    assert WebhookDelivery.objects.count() == WebhookAttempt.objects.count() == 1
    marks = dict(OutboxPurgeMark.objects.values_list("merchant_id", "purged_through"))
    assert marks == {
        shop.pk: max(pk for pk, merchant_id in old_ids.items() if merchant_id == shop.pk)
        for shop in shops
    }
    assert run(purge_outbox)["rows"] == 0
    assert dict(OutboxPurgeMark.objects.values_list("merchant_id", "purged_through")) == marks


@covers(draft_invoices)
def test_drafting_invoices_twice_at_once_drafts_one_invoice_per_merchant():
    merchants = [MerchantFactory(live=True) for _ in range(3)]
    for merchant in merchants:
        fee_plan_make(merchant)
    last_month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)

    results = run_twice_at_once(draft_invoices)

    assert [result["rows"] for result in results] == [3, 3]
    assert all(result["summary"].endswith(" 0 merchant(s) skipped") for result in results)
    invoices = Invoice.objects.filter(period_start=last_month)
    assert sorted(invoices.values_list("merchant_id", flat=True)) == [m.pk for m in merchants]
    drafted = drafts()
    assert [len(events) for *_, events in drafted] == [1, 1, 1]
    assert run(draft_invoices)["rows"] == 3
    assert Invoice.objects.count() == 3
    assert drafts() == drafted


def drafts() -> list[tuple]:
    """Each invoice with its total, its lines and its events."""
    return sorted(
        (
            invoice.pk,
            invoice.total,
            list(invoice.lines.order_by("position").values_list("pk", "description", "amount")),
            list(invoice.events.values_list("pk", "to_status")),
        )
        for invoice in Invoice.objects.all()
    )
