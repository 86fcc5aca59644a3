"""Customer care's scheduled jobs, each run twice at the same moment on PostgreSQL and then
once more: their effects happen once (tests/jobs_twice.py)."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from customercare import services, tasks
from customercare.member_data_requests import member_data_request
from customercare.models import (
    CareNotification,
    DataExportStatus,
    MemberDataExport,
    SLAPolicy,
    Ticket,
    TicketChannel,
    TicketEvent,
    TicketPriority,
    TicketStatus,
)
from fulfillment.models import Redemption, RedemptionStatus
from fulfillment.services import outcomes, redemptions
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open
from tests.fulfillment.factories import sandbox_offer
from tests.jobs_twice import covers, run, run_twice_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MINUTE = datetime.timedelta(minutes=1)
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


def flagged_redemption(offer, member) -> Redemption:
    """A closed redemption flagged for care, whose hook that opens its ticket was lost."""
    redemption = redemptions.redemption_create(
        merchant=member.merchant,
        data=redemptions.RedemptionInput(
            member_external_id=member.external_id,
            reward_id=offer.reward_id,
            value=Decimal("25"),
            recipient={"email": "ana@example.com"},
        ),
        actor=Actor.system("test"),
    ).obj
    with transaction.atomic():
        locked = Redemption.objects.select_for_update().get(pk=redemption.pk)
        outcomes.redemption_refund(
            redemption=locked,
            reason="supplier out of cards",
            source="sandbox",
            at=timezone.now(),
            status=RedemptionStatus.CANCELLED,
            actor=Actor.system("dispatch"),
        )
    Redemption.objects.filter(pk=redemption.pk).update(
        needs_care=True, care_reason="supplier out of cards"
    )
    return redemption


@covers(tasks.sweep)
def test_the_care_sweep_twice_at_once_sends_each_email_and_opens_each_ticket_once(settings):
    merchant = care_merchant()
    agent = agent_make()
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    for n in range(3):
        ticket = ticket_open(member_of(merchant, email=f"m{n}@example.com"))
        services.ticket_reply(
            ticket=ticket, body="We credited 120 points.", internal=False, actor=Actor.staff(agent)
        )
    export = member_data_request(
        member=member_of(merchant, email="data@example.com"), actor=Actor.member()
    )
    unsent = set(CareNotification.objects.filter(sent_at=None).values_list("pk", flat=True))
    assert len(unsent) >= 3
    settings.EMAIL_BACKEND = LOCMEM
    offer = sandbox_offer(merchant)
    with transaction.atomic():  # closed before its dispatch, queued on the commit, runs
        flagged = [flagged_redemption(offer, member_of(merchant, 10_000)) for _ in range(2)]
    mail.outbox.clear()

    run_twice_at_once(tasks.sweep)

    sent = CareNotification.objects.filter(pk__in=unsent)
    assert not sent.filter(sent_at=None).exists()
    opened = Ticket.objects.filter(redemption__in=flagged, channel=TicketChannel.SYSTEM)
    assert sorted(opened.values_list("redemption_id", flat=True)) == sorted(r.pk for r in flagged)
    export.refresh_from_db()
    assert (export.status, export.emailed_at is not None) == (DataExportStatus.READY, True)
    emails = sorted((message.subject, tuple(message.to)) for message in mail.outbox)
    assert len(emails) == len(set(emails))
    data_links = [message for message in mail.outbox if "/data/" in message.body]
    assert len(data_links) == 1
    tickets = sorted(Ticket.objects.values_list("pk", flat=True))
    run(tasks.sweep)
    assert sorted(Ticket.objects.values_list("pk", flat=True)) == tickets
    assert sorted((message.subject, tuple(message.to)) for message in mail.outbox) == emails


@covers(tasks.sla_check)
def test_the_sla_check_twice_at_once_escalates_each_breach_once():
    SLAPolicy.objects.create(
        merchant=None,
        priority=TicketPriority.NORMAL,
        first_response_minutes=60,
        resolution_minutes=240,
    )
    SLAPolicy.objects.create(
        merchant=None,
        priority=TicketPriority.HIGH,
        first_response_minutes=30,
        resolution_minutes=120,
    )
    agent_make()
    agent_make(available=False, lead=True)
    merchant = care_merchant()
    tickets = [ticket_open(member_of(merchant, email=f"s{n}@example.com")) for n in range(4)]
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(
        created_at=timezone.now() - 61 * MINUTE
    )
    resolved = ticket_open(member_of(merchant, email="r@example.com"))
    Ticket.objects.filter(pk=resolved.pk).update(
        status=TicketStatus.RESOLVED, resolved_at=timezone.now() - datetime.timedelta(days=8)
    )
    mail.outbox.clear()

    results = run_twice_at_once(tasks.sla_check)

    assert all(result["summary"].endswith(" 0 error(s)") for result in results), results
    rows = Ticket.objects.filter(pk__in=[t.pk for t in tickets])
    assert set(rows.values_list("priority", "escalations", "first_response_breached")) == {
        (TicketPriority.HIGH, 1, True)
    }
    raised = TicketEvent.objects.filter(field="priority")
    assert sorted(raised.values_list("ticket_id", flat=True)) == [t.pk for t in tickets]
    assert Ticket.objects.get(pk=resolved.pk).status == TicketStatus.CLOSED
    assert TicketEvent.objects.filter(field="status", to_value="closed").count() == 1
    breached = sorted(message.subject for message in mail.outbox if "breached" in message.subject)
    assert len(breached) == len(set(breached)) == 4
    events = list(TicketEvent.objects.order_by("pk").values_list("pk", flat=True))
    run(tasks.sla_check)
    assert list(TicketEvent.objects.order_by("pk").values_list("pk", flat=True)) == events
    assert sorted(m.subject for m in mail.outbox if "breached" in m.subject) == breached


@covers(tasks.member_data_expire)
def test_expiring_member_data_twice_at_once_deletes_each_archive_once():
    merchant = care_merchant()
    exports = [
        member_data_request(
            member=member_of(merchant, email=f"d{n}@example.com"), actor=Actor.member()
        )
        for n in range(3)
    ]
    ready = MemberDataExport.objects.filter(pk__in=[e.pk for e in exports])
    assert set(ready.values_list("status", flat=True)) == {DataExportStatus.READY}
    files = [export.file for export in ready]
    storage = files[0].storage
    assert all(storage.exists(file.name) for file in files)
    ready.update(expires_at=timezone.now() - MINUTE)

    results = run_twice_at_once(tasks.member_data_expire)

    counts = sorted(int(result.split()[0]) for result in results)
    assert sum(counts) == 3, results
    assert set(ready.values_list("status", "file")) == {(DataExportStatus.EXPIRED, "")}
    assert not any(storage.exists(file.name) for file in files)
    assert run(tasks.member_data_expire).startswith("0 ")
