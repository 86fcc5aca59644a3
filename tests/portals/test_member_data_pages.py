"""The profile page's privacy part, ``/m/<merchant>/profile/``: "Email me my data" (a
request, an email with the link) and the archive's download, served only to its own
member signed in to that merchant's portal and only until it expires; "Delete my account"
with its confirmation box."""

import datetime
import io
import re
import time
import zipfile
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from customercare.models import AccountDeletionRequest, DeletionStatus, MemberDataExport
from portals.member_session import SESSION_KEY
from tests.loyalty.factories import member_make, program_merchant

pytestmark = pytest.mark.django_db


def member_in(merchant, external_id: str, email: str):
    return member_make(merchant, external_id, email=email, first_name="Ana", points=50)


@pytest.fixture
def member():
    merchant, _ = program_merchant(name="Northwind Rewards", points_name="Beans")
    return member_in(merchant, "cust-ana", "ana@example.com")


def signed_in(member) -> Client:
    client = Client()
    session = client.session
    session[SESSION_KEY] = {str(member.merchant_id): {"member": member.pk, "at": int(time.time())}}
    session.save()
    return client


def profile(member) -> str:
    return f"/m/{member.merchant.slug}/profile/"


def download_path(email) -> str:
    return urlsplit(re.search(r"https?://\S+\.zip", email.body).group(0)).path


@pytest.fixture
def archive(member, django_capture_on_commit_callbacks, mailoutbox):
    """The member asked for their data and got the email; the link's path."""
    client = signed_in(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/m/{member.merchant.slug}/profile/data")
    assert response.status_code == 302
    assert response["Location"].startswith(profile(member) + "?data=requested")
    (email,) = mailoutbox
    return download_path(email)


def test_the_profile_page_offers_both_requests(member):
    page = signed_in(member).get(profile(member)).content.decode()

    assert f'action="/m/{member.merchant.slug}/profile/data"' in page
    assert f'action="/m/{member.merchant.slug}/profile/delete"' in page
    assert "Email me my data" in page
    assert 'name="confirm"' in page


def test_the_member_downloads_their_archive(member, archive):
    response = signed_in(member).get(archive)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "private, no-store"
    assert "attachment;" in response["Content-Disposition"]
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert "data.json" in names
    assert "ledger.csv" in names


def test_the_page_says_the_link_is_on_its_way(member, archive):
    page = signed_in(member).get(profile(member) + "?data=requested").content.decode()

    assert "ana@example.com" in page


def test_a_visitor_not_signed_in_is_sent_to_sign_in(member, archive):
    response = Client().get(archive)

    assert response.status_code == 302
    assert f"/m/{member.merchant.slug}/login/" in response["Location"]


def test_another_member_of_the_merchant_gets_a_404(member, archive):
    neighbour = member_in(member.merchant, "cust-ben", "ben@example.com")

    assert signed_in(neighbour).get(archive).status_code == 404


def test_another_merchants_portal_gets_a_404(member, archive):
    other_merchant, _ = program_merchant(name="Bolt Bikes")
    other = member_in(other_merchant, "cust-ana", "ana@example.com")
    token = archive.rsplit("/", 1)[1]

    response = signed_in(other).get(f"/m/{other_merchant.slug}/data/{token}")

    assert response.status_code == 404


def test_a_changed_token_gets_a_404(member, archive):
    assert signed_in(member).get(archive.replace("/data/", "/data/x")).status_code == 404


def test_an_expired_archive_gets_a_404(member, archive):
    MemberDataExport.objects.filter(member=member).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    assert signed_in(member).get(archive).status_code == 404


def test_a_member_without_an_email_is_told_why(member):
    member.__class__.objects.filter(pk=member.pk).update(email="")
    client = signed_in(member)

    response = client.post(f"/m/{member.merchant.slug}/profile/data")

    assert response["Location"].startswith(profile(member) + "?data=refused")
    assert not MemberDataExport.objects.exists()


def test_deleting_needs_the_confirmation_box(member):
    client = signed_in(member)

    response = client.post(f"/m/{member.merchant.slug}/profile/delete", {"reason": "Bye"})

    assert response["Location"].startswith(profile(member) + "?deletion=unconfirmed")
    assert not AccountDeletionRequest.objects.exists()
    page = client.get(response["Location"]).content.decode()
    assert "Tick the box" in page


def test_the_member_asks_to_delete_their_account(member):
    client = signed_in(member)

    response = client.post(
        f"/m/{member.merchant.slug}/profile/delete", {"reason": "Moving away", "confirm": "yes"}
    )

    assert response["Location"].startswith(profile(member) + "?deletion=requested")
    request = AccountDeletionRequest.objects.get(member=member)
    assert (request.status, request.reason) == (DeletionStatus.REQUESTED, "Moving away")
    assert request.merchant == member.merchant
    page = client.get(response["Location"]).content.decode()
    assert "We have your request to delete your account" in page


def test_the_requests_take_a_post_only(member):
    client = signed_in(member)

    assert client.get(f"/m/{member.merchant.slug}/profile/data").status_code == 405
    assert client.get(f"/m/{member.merchant.slug}/profile/delete").status_code == 405


def test_the_profile_page_links_a_ready_archive_until_it_expires(member, archive):
    client = signed_in(member)

    page = client.get(profile(member)).content.decode()
    assert f'href="{archive}"' in page

    MemberDataExport.objects.filter(member=member).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert archive not in client.get(profile(member)).content.decode()


def test_the_profile_page_says_an_archive_is_being_made(member):
    client = signed_in(member)
    client.post(f"/m/{member.merchant.slug}/profile/data")  # its task waits on the commit

    page = client.get(profile(member)).content.decode()

    assert "We are preparing your data" in page
    assert f'action="/m/{member.merchant.slug}/profile/data"' not in page


def test_a_waiting_deletion_request_is_shown_instead_of_the_form(member):
    client = signed_in(member)
    client.post(f"/m/{member.merchant.slug}/profile/delete", {"confirm": "yes"})

    page = client.get(profile(member)).content.decode()

    assert "We have your request to delete your account" in page
    assert 'name="confirm"' not in page


def test_asking_for_data_again_within_a_day_says_when_and_writes_nothing(member, archive):
    export = MemberDataExport.objects.get(member=member)
    client = signed_in(member)

    response = client.post(f"/m/{member.merchant.slug}/profile/data")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    page = response.content.decode()
    assert "You can ask again from" in page
    assert str((export.created_at + datetime.timedelta(hours=24)).year) in page
    assert MemberDataExport.objects.filter(member=member).count() == 1


def test_the_wait_is_told_in_the_members_language(member, archive):
    member.__class__.objects.filter(pk=member.pk).update(locale="fr")
    when = MemberDataExport.objects.get(member=member).created_at + datetime.timedelta(hours=24)
    when = when.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)  # rounded up

    response = signed_in(member).post(f"/m/{member.merchant.slug}/profile/data")

    assert response.status_code == 429
    page = response.content.decode()
    assert 'lang="fr"' in page
    months = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept."]
    months += ["oct.", "nov.", "déc."]
    assert f"{when.day} {months[when.month - 1]} {when.year}, {when:%H:%M} UTC" in page


def test_the_profile_page_says_when_the_member_may_ask_again(member, archive):
    page = signed_in(member).get(profile(member)).content.decode()

    assert "You can ask again from" in page
    assert f'action="/m/{member.merchant.slug}/profile/data"' not in page


def test_a_day_later_the_member_may_ask_for_their_data_again(member, archive, mailoutbox):
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=24, seconds=1)):
        client = signed_in(member)
        page = client.get(profile(member)).content.decode()
        assert f'action="/m/{member.merchant.slug}/profile/data"' in page

        response = client.post(f"/m/{member.merchant.slug}/profile/data")

    assert response.status_code == 302
    assert response["Location"].startswith(profile(member) + "?data=requested")
    assert MemberDataExport.objects.filter(member=member).count() == 2


def test_asking_to_delete_again_says_a_request_is_waiting(member):
    client = signed_in(member)
    url = f"/m/{member.merchant.slug}/profile/delete"
    client.post(url, {"reason": "Moving away", "confirm": "yes"})

    response = client.post(url, {"reason": "Hurry", "confirm": "yes"})

    assert response.status_code == 409
    assert "We have your request to delete your account" in response.content.decode()
    request = AccountDeletionRequest.objects.get(member=member)
    assert request.reason == "Moving away"
