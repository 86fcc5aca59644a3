"""Two clicks at the same moment, and two workers on one request: the member's row lock
(and, behind it, the partial unique index) make one request, one archive and one email;
the other clicks are told the request they already made stands."""

import threading

import pytest
from django.core import mail
from django.db import connection

from core.actors import Actor
from customercare.account_deletion import account_deletion_request
from customercare.exceptions import DataExportTooSoon, DeletionAlreadyRequested
from customercare.member_data_requests import member_data_export_make, member_data_request
from customercare.models import AccountDeletionRequest, MemberDataExport
from tests.customercare.factories import care_merchant, member_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at_once(work, times: int = 2) -> list:
    barrier = threading.Barrier(times)
    results: list = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_requests_make_one_archive_and_one_email(mailoutbox):
    member = member_of(care_merchant(), email="ana@example.com")

    def ask() -> object:
        try:
            return member_data_request(member=member, actor=Actor.member()).pk
        except DataExportTooSoon:
            return "too soon"

    results = at_once(ask, 3)

    export = MemberDataExport.objects.get(member=member)
    assert sorted(results, key=str) == sorted([export.pk, "too soon", "too soon"], key=str)
    assert export.status == "ready"
    assert len([m for m in mail.outbox if "/data/" in m.body]) == 1
    _, files = export.file.storage.listdir(f"member-data/{member.merchant_id}")
    assert files == [f"{export.token}.zip"]


def test_two_workers_on_one_request_make_one_archive(mailoutbox):
    member = member_of(care_merchant(), email="ana@example.com")
    export = MemberDataExport.objects.create(
        merchant=member.merchant, member=member, source="member"
    )

    results = at_once(lambda: member_data_export_make(export_id=export.pk))

    # One made the archive and one found it made; whichever reached the email first sent
    # it, once.
    made = sorted(result.split(", ")[0] for result in results)
    sent = sorted(result.split(", ")[1] for result in results)
    assert made == ["made", "made before"]
    assert sent == ["not sent", "sent"]
    assert len(mail.outbox) == 1
    _, files = export.file.storage.listdir(f"member-data/{member.merchant_id}")
    assert files == [f"{export.token}.zip"]


def test_concurrent_deletion_requests_make_one_and_tell_the_others_it_waits():
    member = member_of(care_merchant(), email="ana@example.com")

    def ask() -> object:
        try:
            return account_deletion_request(
                merchant=member.merchant, member=member, actor=Actor.member()
            ).pk
        except DeletionAlreadyRequested:
            return "waiting"

    results = at_once(ask, 2)

    request = AccountDeletionRequest.objects.get(member=member)
    assert sorted(results, key=str) == sorted([request.pk, "waiting"], key=str)
    assert request.events.count() == 1
