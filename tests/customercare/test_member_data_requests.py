"""Download my data: one request a member a day, an archive made by an idempotent task
(JSON and five CSV files, amounts and times as text), one email with the link in the
member's language, and the archive deleted a week on by the daily job."""

import csv
import datetime
import io
import json
import zipfile

import pytest
import time_machine
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from core.actors import Actor
from customercare import member_data_requests, services, tasks
from customercare.exceptions import DataExportTooSoon, PrivacyRequestRefused
from customercare.member_data_requests import member_data_export_make, member_data_request
from customercare.models import DataExportStatus, MemberDataExport
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open
from tests.fulfillment.factories import redemption_delivered
from tests.loyalty.factories import order_post

pytestmark = pytest.mark.django_db
MEMBER = Actor.member()


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


@pytest.fixture
def member():
    member = member_of(care_merchant(), 3000, email="ana@example.com")
    order_post(member.merchant, member, "42.50", external_id="NW-1001")
    redemption_delivered(member.merchant, member)
    ticket = ticket_open(member, subject="=cmd|' /C calc'!A0", body="Where are my points?")
    agent = agent_make()
    services.ticket_reply(ticket=ticket, body="Our note", internal=True, actor=Actor.staff(agent))
    services.ticket_reply(
        ticket=ticket, body="We credited them.", internal=False, actor=Actor.staff(agent)
    )
    member.refresh_from_db()
    return member


def requested(member, capture):
    with capture(execute=True):
        return member_data_request(member=member, actor=MEMBER)


def links_sent(mailoutbox) -> list:
    """The data emails among those sent (the fixture's ticket reply has its own)."""
    return [email for email in mailoutbox if "/data/" in email.body]


def archive_of(export: MemberDataExport) -> zipfile.ZipFile:
    export.refresh_from_db()
    with export.file.open("rb") as file:
        return zipfile.ZipFile(io.BytesIO(file.read()))


def rows(archive: zipfile.ZipFile, name: str) -> list[list[str]]:
    text = archive.read(name).decode()
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_archive_holds_the_json_and_a_csv_file_a_table(
    member, django_capture_on_commit_callbacks, mailoutbox
):
    export = requested(member, django_capture_on_commit_callbacks)

    archive = archive_of(export)
    assert sorted(archive.namelist()) == [
        "data.json",
        "ledger.csv",
        "orders.csv",
        "profile.csv",
        "redemptions.csv",
        "tickets.csv",
    ]
    data = json.loads(archive.read("data.json"))
    assert data["profile"]["external_id"] == member.external_id
    assert data["points"]["balance"] == member.points_balance

    profile = rows(archive, "profile.csv")
    assert profile[0][:4] == ["external_id", "email", "phone", "first_name"]
    assert profile[0][11:14] == ["points_balance", "pending_points", "lifetime_points"]
    assert len(profile) == 2
    assert profile[1][0] == member.external_id
    assert profile[1][1] == "ana@example.com"
    assert profile[1][11] == str(member.points_balance)

    ledger = rows(archive, "ledger.csv")
    assert ledger[0] == ["at", "kind", "points", "reason"]
    assert [row[2] for row in ledger[1:]] == [str(e["points"]) for e in data["ledger"]]
    assert any(row[2].startswith("-") for row in ledger[1:])  # the redemption: a number
    assert all(
        datetime.datetime.fromisoformat(row[0]).utcoffset() == datetime.timedelta(0)
        for row in ledger[1:]
    )

    orders = rows(archive, "orders.csv")
    assert orders[0] == [
        "external_id",
        "placed_at",
        "total",
        "currency",
        "points_earned",
        "lines",
        "refunds",
    ]
    assert orders[1][0] == "NW-1001"
    assert orders[1][2:4] == ["42.5", "USD"]  # text, as the JSON has it; never a float
    assert data["orders"][0]["total"] == "42.5"

    redemptions = rows(archive, "redemptions.csv")
    assert redemptions[0] == ["id", "reward", "points", "status", "created_at", "recipient"]
    assert len(redemptions) == 2
    assert redemptions[1][3] == "delivered"
    assert json.loads(redemptions[1][5]) == {"email": "ana@example.com"}

    tickets = rows(archive, "tickets.csv")
    assert tickets[0] == [
        "reference",
        "subject",
        "status",
        "opened_at",
        "message_at",
        "message_from",
        "message",
    ]
    bodies = [row[6] for row in tickets[1:]]
    assert "We credited them." in bodies
    assert "Our note" not in bodies  # an internal note is not the member's data
    assert tickets[1][1].startswith("'=")  # a spreadsheet never runs it


def test_the_member_gets_one_email_with_the_link_in_their_language(
    django_capture_on_commit_callbacks, mailoutbox
):
    member = member_of(care_merchant(), email="camille@example.com", locale="fr-FR")

    export = requested(member, django_capture_on_commit_callbacks)

    (email,) = mailoutbox
    export.refresh_from_db()
    assert email.to == ["camille@example.com"]
    assert "sont prêtes" in email.subject
    link = f"/m/{member.merchant.slug}/data/{export.token}.zip"
    assert link in email.body
    html, mime = email.alternatives[0]
    assert mime == "text/html"
    assert link in html
    assert 'lang="fr"' in html
    assert "Télécharger mes données" in html
    assert export.status == DataExportStatus.READY
    assert export.emailed_at is not None
    assert export.expires_at == export.ready_at + datetime.timedelta(days=7)


def test_an_arabic_email_reads_right_to_left(django_capture_on_commit_callbacks, mailoutbox):
    member = member_of(care_merchant(), email="layla@example.com", locale="ar")

    requested(member, django_capture_on_commit_callbacks)

    html = mailoutbox[0].alternatives[0][0]
    assert 'dir="rtl"' in html
    assert "تنزيل بياناتي" in html


def test_asking_again_while_the_archive_is_made_is_refused_and_writes_nothing(member):
    first = member_data_request(member=member, actor=MEMBER)  # its task waits on the commit

    with pytest.raises(DataExportTooSoon) as refused:
        member_data_request(member=member, actor=MEMBER)

    first.refresh_from_db()
    assert refused.value.available_at == first.created_at + datetime.timedelta(hours=24)
    assert refused.value.status == 429
    assert 0 < refused.value.retry_after <= 24 * 3600
    assert MemberDataExport.objects.filter(member=member).count() == 1


def test_asking_again_within_a_day_of_a_sent_archive_is_refused(
    member, django_capture_on_commit_callbacks, mailoutbox
):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        first = requested(member, django_capture_on_commit_callbacks)
        traveller.shift(datetime.timedelta(hours=23, minutes=59))

        with pytest.raises(DataExportTooSoon) as refused:
            requested(member, django_capture_on_commit_callbacks)

    first.refresh_from_db()
    assert first.status == DataExportStatus.READY
    assert refused.value.available_at == first.created_at + datetime.timedelta(hours=24)
    assert refused.value.retry_after == 60
    assert MemberDataExport.objects.filter(member=member).count() == 1
    assert len(links_sent(mailoutbox)) == 1


def test_a_day_later_the_member_may_ask_again(
    member, django_capture_on_commit_callbacks, mailoutbox
):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        first = requested(member, django_capture_on_commit_callbacks)
        traveller.shift(datetime.timedelta(hours=24, seconds=1))

        second = requested(member, django_capture_on_commit_callbacks)

    assert second.pk != first.pk
    assert MemberDataExport.objects.filter(member=member).count() == 2
    assert len(links_sent(mailoutbox)) == 2


def test_the_day_is_counted_for_each_member_alone(member, django_capture_on_commit_callbacks):
    requested(member, django_capture_on_commit_callbacks)
    neighbour = member_of(member.merchant, email="ben@example.com")

    assert requested(neighbour, django_capture_on_commit_callbacks).member == neighbour


def test_the_task_run_twice_makes_one_archive_and_sends_one_email(member, mailoutbox):
    export = member_data_request(member=member, actor=MEMBER)

    tasks.member_data_export_make(export.pk)
    export.refresh_from_db()
    name = export.file.name
    tasks.member_data_export_make(export.pk)

    export.refresh_from_db()
    assert export.file.name == name
    assert len(links_sent(mailoutbox)) == 1
    storage = export.file.storage
    _, files = storage.listdir(f"member-data/{member.merchant_id}")
    assert files == [f"{export.token}.zip"]


def test_an_unsent_link_is_sent_by_the_sweep(member, mailoutbox, settings):
    export = member_data_request(member=member, actor=MEMBER)
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    tasks.member_data_export_make(export.pk)
    export.refresh_from_db()
    assert export.status == DataExportStatus.READY
    assert export.emailed_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    tasks.sweep()
    tasks.sweep()

    export.refresh_from_db()
    assert export.emailed_at is not None
    assert len(links_sent(mailoutbox)) == 1


def test_a_request_whose_task_was_lost_is_made_by_the_sweep(member, mailoutbox):
    export = member_data_request(member=member, actor=MEMBER)  # no commit: no task
    MemberDataExport.objects.filter(pk=export.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=11)
    )

    tasks.sweep()

    export.refresh_from_db()
    assert export.status == DataExportStatus.READY
    assert len(links_sent(mailoutbox)) == 1


def test_an_archive_that_cannot_be_made_fails_and_the_member_may_ask_again(
    member, monkeypatch, mailoutbox
):
    export = member_data_request(member=member, actor=MEMBER)

    def broken(*, member):
        raise RuntimeError("disk full")

    monkeypatch.setattr(member_data_requests, "member_data_export", broken)
    assert member_data_export_make(export_id=export.pk) == "failed"

    export.refresh_from_db()
    assert export.status == DataExportStatus.FAILED
    assert "disk full" in export.error
    assert links_sent(mailoutbox) == []
    assert member_data_request(member=member, actor=MEMBER).pk != export.pk


def test_the_daily_job_deletes_archives_past_their_week(member, django_capture_on_commit_callbacks):
    export = requested(member, django_capture_on_commit_callbacks)
    export.refresh_from_db()
    storage, name = export.file.storage, export.file.name
    assert storage.exists(name)

    early = member_data_requests.member_data_exports_expire(
        now=export.expires_at - datetime.timedelta(minutes=1)
    )
    assert early.startswith("0 ")
    assert storage.exists(name)

    done = member_data_requests.member_data_exports_expire(now=export.expires_at)

    assert done.startswith("1 ")
    export.refresh_from_db()
    assert export.status == DataExportStatus.EXPIRED
    assert not export.file
    assert not storage.exists(name)
    assert member_data_requests.member_data_export_get(member=member, token=export.token) is None


def test_the_expiry_job_by_hand(member, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    export = requested(member, django_capture_on_commit_callbacks)
    export.refresh_from_db()
    out = io.StringIO()
    at = (export.expires_at + datetime.timedelta(seconds=1)).isoformat()

    call_command("expire_member_data", "--now", at, stdout=out)

    assert "1 member data archive(s) deleted" in out.getvalue()


def test_an_archive_is_found_only_by_its_own_member(member, django_capture_on_commit_callbacks):
    export = requested(member, django_capture_on_commit_callbacks)
    neighbour = member_of(member.merchant, email="ben@example.com")
    stranger = member_of(care_merchant(), email="cleo@example.com")

    assert member_data_requests.member_data_export_get(member=member, token=export.token)
    assert member_data_requests.member_data_export_get(member=neighbour, token=export.token) is None
    assert member_data_requests.member_data_export_get(member=stranger, token=export.token) is None


def test_a_member_without_an_email_address_is_refused():
    member = member_of(care_merchant(), email="")

    with pytest.raises(PrivacyRequestRefused):
        member_data_request(member=member, actor=MEMBER)
    assert not MemberDataExport.objects.exists()


def test_the_tokens_are_long_and_random(member):
    first = member_data_request(member=member, actor=MEMBER)
    other = member_data_request(member=member_of(member.merchant), actor=MEMBER)

    assert len(first.token) >= 40
    assert first.token != other.token


def test_the_database_holds_one_open_request_a_member(member):
    from django.db import IntegrityError, transaction

    member_data_request(member=member, actor=MEMBER)
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberDataExport.objects.create(merchant=member.merchant, member=member, source="staff")
