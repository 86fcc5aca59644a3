"""The admin's sign-in locks a username from one address after repeated wrong passwords
(django-axes), the right password included, until the cool-off passes or Operations
unlock it; other addresses and other users are not affected."""

import datetime

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.utils import timezone

from core.client_address import client_ip
from core.staff_groups import staff_groups_sync
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-pass-phrase"
ATTACKER = "198.51.100.7"
OFFICE = "203.0.113.20"


@pytest.fixture
def ops():
    return get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)


def sign_in(client: Client, username: str, password: str, address: str = ATTACKER):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def lock_out(username: str, address: str = ATTACKER):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = sign_in(client, username, "wrong", address)
    return response


def test_the_failure_limit_is_sensible():
    assert 3 <= settings.AXES_FAILURE_LIMIT <= 10
    assert datetime.timedelta(minutes=15) <= settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_wrong_passwords_below_the_limit_only_fail(ops):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(client, "ops", "wrong")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.text

    assert sign_in(client, "ops", PASSWORD).status_code == 302
    assert signed_in(client)
    # A success starts the count again.
    assert AccessAttempt.objects.filter(username="ops").count() == 0


def test_repeated_wrong_passwords_lock_out_even_the_right_one(ops):
    last = lock_out("ops")

    assert last.status_code == 429
    client = Client()
    response = sign_in(client, "ops", PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    assert "Too many failed sign-ins" in response.text
    assert "Operations" in response.text
    assert not signed_in(client)
    attempt = AccessAttempt.objects.get(username="ops", ip_address=ATTACKER)
    assert attempt.failures_since_start >= settings.AXES_FAILURE_LIMIT
    assert AccessFailureLog.objects.filter(username="ops").count() >= settings.AXES_FAILURE_LIMIT


def test_a_lockout_holds_only_for_that_username_from_that_address(ops):
    get_user_model().objects.create_superuser("finance", "fin@example.com", PASSWORD)
    lock_out("ops")

    from_the_office = Client()
    assert sign_in(from_the_office, "ops", PASSWORD, OFFICE).status_code == 302
    assert signed_in(from_the_office)
    colleague = Client()
    assert sign_in(colleague, "finance", PASSWORD, ATTACKER).status_code == 302
    assert signed_in(colleague)


def test_the_lockout_ends_after_the_cool_off(ops):
    lock_out("ops")
    long_ago = timezone.now() - settings.AXES_COOLOFF_TIME - datetime.timedelta(minutes=1)
    AccessAttempt.objects.update(attempt_time=long_ago)

    client = Client()
    assert sign_in(client, "ops", PASSWORD).status_code == 302
    assert signed_in(client)


def test_operations_see_the_lockout_and_unlock_it_in_the_admin(ops):
    staff_groups_sync()
    colleague = StaffFactory(username="dana")
    colleague.groups.add(Group.objects.get(name="Operations"))
    lock_out("ops")
    attempt = AccessAttempt.objects.get(username="ops")
    admin = Client()
    admin.force_login(colleague)

    listing = admin.get("/admin/axes/accessattempt/?locked_out=yes")
    assert listing.status_code == 200
    assert "ops" in listing.text
    assert ATTACKER in listing.text
    assert admin.get("/admin/axes/accessfailurelog/").status_code == 200
    unlocked = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert unlocked.status_code == 302
    assert not AccessAttempt.objects.exists()

    client = Client()
    assert sign_in(client, "ops", PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_command_unlocks_a_username(ops):
    lock_out("ops")

    call_command("axes_reset_username", "ops")

    client = Client()
    assert sign_in(client, "ops", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "expected"),
    [
        (0, "10.0.0.1", "192.0.2.1"),  # no proxy: the header is the client's own words
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # a client-written entry is ignored
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (2, "", "192.0.2.1"),  # fewer entries than proxies: the direct peer
    ],
)
def test_the_client_address_is_read_past_the_trusted_proxies_only(
    settings, proxies, forwarded_for, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/admin/login/", REMOTE_ADDR="192.0.2.1")
    request.META["HTTP_X_FORWARDED_FOR"] = forwarded_for

    assert client_ip(request) == expected
