"""The member portal's email sign-in does the same work for a member's address and a
stranger's: the request validates, throttles and queues one task either way, and only
the task looks the member up and sends the link."""

import pytest
from django.core import mail
from django.test import Client, override_settings

from core.actors import SYSTEM
from loyalty.models import Member
from merchants.services.stores import store_create
from portals import tasks
from portals.member_signin_email import signin_email_send
from tests.loyalty.factories import member_make, program_merchant

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    merchant, _program = program_merchant(name="Northwind Rewards", points_name="Beans")
    store_create(
        merchant=merchant, name="Shop", platform="shopify", domain="nw.example", actor=SYSTEM
    )
    member_make(merchant, "cust-ana", email="ana@example.com", first_name="Ana", locale="en")
    return merchant


def ask(merchant, email: str, client: Client | None = None, **headers):
    return (client or Client()).post(
        f"/m/{merchant.slug}/login/", {"email": email}, headers=headers
    )


def test_the_task_emails_the_member_and_nobody_else(merchant):
    known = ask(merchant, "ana@example.com")
    unknown = ask(merchant, "nobody@example.com")

    assert known.content.decode().replace("ana@example.com", "EMAIL") == (
        unknown.content.decode().replace("nobody@example.com", "EMAIL")
    )
    (email,) = mail.outbox
    assert email.to == ["ana@example.com"]
    assert f"/m/{merchant.slug}/login/link/" in email.body


def test_a_malformed_address_sends_nothing(merchant):
    response = ask(merchant, "not an address")

    assert response.status_code == 400
    assert mail.outbox == []


@override_settings(MEMBER_SIGNIN_EMAIL_RATE=(1, 3600))
def test_a_throttled_request_sends_nothing(merchant):
    assert ask(merchant, "ana@example.com").status_code == 200
    assert ask(merchant, "ana@example.com").status_code == 429
    assert ask(merchant, "someone@example.com").status_code == 200

    assert [email.to for email in mail.outbox] == [["ana@example.com"]]


def test_a_member_without_a_locale_gets_the_pages_language(merchant):
    Member.objects.filter(merchant=merchant).update(locale="")

    ask(merchant, "ana@example.com", **{"accept-language": "ar"})

    (email,) = mail.outbox
    html, _kind = email.alternatives[0]
    assert 'lang="ar"' in html
    assert 'dir="rtl"' in html


def test_the_task_delivered_twice_sends_one_email(merchant):
    arguments = {
        "merchant_id": merchant.pk,
        "email": "ANA@example.com",
        "next_path": "",
        "language": "en",
        "nonce": "n1",
    }

    assert signin_email_send(**arguments) is True
    assert signin_email_send(**arguments) is False
    assert len(mail.outbox) == 1


def test_the_task_sends_nothing_to_another_merchants_member(merchant):
    other, _ = program_merchant(name="Bolt Bikes", points_name="Bolts")
    member_make(other, "cust-cleo", email="cleo@example.com")

    result = tasks.send_member_signin_email(merchant.pk, "cleo@example.com", "", "en", "n2")

    assert result == "nothing to send"
    assert mail.outbox == []
