"""Member messages under real concurrency (PostgreSQL): two runs of the expiry job, and
two workers sending the same message, at the same moment. Each member gets each message
once; the loser of a race finds the key taken and sends nothing."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from loyalty.messages import jobs, services
from loyalty.models import MemberMessage, MessageKind, MessageStatus
from tests.loyalty.factories import member_make, program_merchant
from tests.loyalty.test_ledger_concurrency import errors, oks, run_together
from tests.loyalty.test_messages_jobs import NOW, lot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_expiry_runs_at_once_send_each_warning_once():
    merchant, _ = program_merchant(points_name="Beans")
    members = [member_make(merchant, email=f"m{n}@example.com") for n in range(12)]
    for n, member in enumerate(members):
        lot(member, 100 + n, NOW + datetime.timedelta(days=3 + n % 2))

    results = run_together(2, lambda _: jobs.expiry_warnings_send(now=NOW, batch_size=5))

    assert errors(results) == []
    assert sum(result.sent for result in oks(results)) == 12
    assert len(mail.outbox) == 12
    assert sorted(email.to[0] for email in mail.outbox) == sorted(m.email for m in members)
    assert MemberMessage.objects.filter(status=MessageStatus.SENT).count() == 12


def test_two_workers_sending_the_same_message_send_it_once():
    merchant, _ = program_merchant()
    member = member_make(merchant, email="ana@example.com")

    results = run_together(
        4,
        lambda _: services.message_send(
            member=member,
            kind=MessageKind.POINTS_EXPIRING,
            key="expiring:2026-12-31:7",
            data={"points": 10, "expires_on": datetime.date(2026, 12, 31)},
            now=NOW,
        ),
    )

    assert errors(results) == []
    sent = [message for message in oks(results) if message is not None]
    assert len(sent) == 1
    assert len(mail.outbox) == 1
    assert MemberMessage.objects.count() == 1


def test_two_lifecycle_runs_at_once_welcome_each_member_once():
    merchant, _ = program_merchant()
    members = [
        member_make(merchant, email=f"w{n}@example.com", marketing_consent=True) for n in range(8)
    ]

    results = run_together(2, lambda _: jobs.lifecycle_messages_send(now=timezone.now()))

    assert errors(results) == []
    assert sorted(email.to[0] for email in mail.outbox) == sorted(m.email for m in members)
    assert MemberMessage.objects.filter(kind=MessageKind.WELCOME).count() == 8
