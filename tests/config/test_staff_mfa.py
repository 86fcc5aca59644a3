"""Staff sign in to the admin with a password and then a second factor (allauth.mfa's TOTP or
a recovery code): the user is not signed in until the code passes, a code works once, wrong
codes count towards the same django-axes lockout as wrong passwords, production requires
every staff user to set one up, and a superuser resets a colleague's."""

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from config import staff_mfa
from core.staff_groups import staff_groups_sync
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-pass-phrase"
ADDRESS = "198.51.100.7"
VERIFY = "/admin/two-factor/code/"
ENROL = "/admin/two-factor/set-up/"


@pytest.fixture(autouse=True)
def _fresh_cache():
    # allauth remembers used codes in the cache; each test starts with none used.
    cache.clear()
    yield
    cache.clear()


def code_for(secret: str, offset: int = 0) -> str:
    """What the authenticator app shows now, with allauth's own HOTP functions."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset))


def staff_with_totp(username: str = "ops", *, superuser: bool = True):
    User = get_user_model()
    if superuser:
        user = User.objects.create_superuser(username, f"{username}@example.com", PASSWORD)
    else:
        user = User.objects.create_user(
            username, f"{username}@example.com", PASSWORD, is_staff=True
        )
    user.totp_secret = generate_totp_secret()
    TOTP.activate(user, user.totp_secret)
    user.recovery_codes = RecoveryCodes.activate(user).generate_codes()
    return user


def password_step(client: Client, username: str = "ops", password: str = PASSWORD):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ADDRESS,
    )


def code_step(client: Client, code: str):
    return client.post(VERIFY, {"code": code}, REMOTE_ADDR=ADDRESS)


def signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_the_password_alone_does_not_sign_in_a_user_with_an_authenticator():
    staff_with_totp()
    client = Client()

    response = password_step(client)

    assert response.status_code == 302
    assert response["Location"] == VERIFY
    assert not signed_in(client)
    assert "_auth_user_id" not in client.session
    page = client.get(VERIFY)
    assert page.status_code == 200
    assert "6-digit code" in page.text


def test_the_right_code_signs_in_and_goes_where_the_user_was_going():
    user = staff_with_totp()
    client = Client()
    password_step(client)

    response = code_step(client, code_for(user.totp_secret))

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert signed_in(client)
    assert staff_mfa.PENDING_KEY not in client.session


def test_a_wrong_code_does_not_sign_in():
    user = staff_with_totp()
    client = Client()
    password_step(client)
    right = code_for(user.totp_secret)
    wrong = "000000" if right != "000000" else "111111"

    response = code_step(client, wrong)

    assert response.status_code == 200
    assert "not right" in response.text
    assert not signed_in(client)
    assert AccessAttempt.objects.get(username="ops").failures_since_start == 1


def test_a_code_cannot_be_used_twice():
    user = staff_with_totp()
    code = code_for(user.totp_secret)
    first = Client()
    password_step(first)
    assert code_step(first, code).status_code == 302

    second = Client()
    password_step(second)
    response = code_step(second, code)

    assert response.status_code == 200
    assert not signed_in(second)


def test_a_recovery_code_signs_in_once():
    user = staff_with_totp()
    recovery = user.recovery_codes[3]
    client = Client()
    password_step(client)
    assert code_step(client, recovery).status_code == 302
    assert signed_in(client)

    again = Client()
    password_step(again)
    assert code_step(again, recovery).status_code == 200
    assert not signed_in(again)
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    assert recovery not in authenticator.wrap().get_unused_codes()


@pytest.mark.parametrize(
    "code",
    ["", "   ", "1" * 1000, "abcdef", "12345x", "<script>", "\uff11\uff12\uff13\uff14\uff15\uff16"],
)
def test_bad_codes_answer_with_an_error_and_never_sign_in(code):
    staff_with_totp()
    client = Client()
    password_step(client)

    response = code_step(client, code)

    assert response.status_code == 200
    assert 'class="errors' in response.text or "errornote" in response.text
    assert not signed_in(client)


def test_wrong_codes_reach_the_same_lockout_as_wrong_passwords():
    user = staff_with_totp()
    client = Client()
    # Wrong passwords and wrong codes are counted together; the right password between
    # them does not start the count again.
    password_step(client, password="wrong")
    password_step(client, password="wrong")
    assert password_step(client).status_code == 302
    responses = [code_step(client, "000001") for _ in range(settings.AXES_FAILURE_LIMIT - 2)]

    assert responses[-1].status_code == 429
    assert "Too many failed sign-ins" in responses[-1].text
    assert staff_mfa.PENDING_KEY not in client.session
    # Locked: the right password and the right code do not help now.
    assert password_step(client).status_code == 429
    assert code_step(client, code_for(user.totp_secret)).status_code == 302  # back to sign-in
    assert not signed_in(client)


def test_the_right_code_after_wrong_ones_starts_the_count_again():
    user = staff_with_totp()
    client = Client()
    password_step(client)
    code_step(client, "000001")

    assert code_step(client, code_for(user.totp_secret)).status_code == 302
    assert not AccessAttempt.objects.filter(username="ops").exists()


def test_the_code_page_expires(monkeypatch):
    user = staff_with_totp()
    client = Client()
    password_step(client)
    later = time.time() + staff_mfa.PENDING_SECONDS + 5
    monkeypatch.setattr(staff_mfa.time, "time", lambda: later)

    response = code_step(client, code_for(user.totp_secret))

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/"
    assert not signed_in(client)


def test_without_the_requirement_a_user_without_an_authenticator_signs_in_with_the_password(
    settings,
):
    settings.STAFF_MFA_REQUIRED = False
    get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    client = Client()

    assert password_step(client)["Location"] == "/admin/"
    assert signed_in(client)


def test_production_requires_setting_up_a_second_factor_before_anything_else(settings):
    settings.STAFF_MFA_REQUIRED = True
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    client = Client()

    response = password_step(client)

    assert response["Location"] == ENROL
    for url in ("/admin/", "/admin/merchants/merchant/", "/admin/auth/user/", "/admin/two-factor/"):
        assert client.get(url).status_code == 302, url
        assert client.get(url)["Location"].startswith("/admin/login/"), url
    page = client.get(ENROL)
    assert page.status_code == 200
    assert "<svg" in page.text
    secret = client.session[staff_mfa.SECRET_KEY]
    assert secret in page.text

    wrong = client.post(ENROL, {"code": "12"})
    assert wrong.status_code == 200
    assert not Authenticator.objects.filter(user=user).exists()

    done = client.post(ENROL, {"code": code_for(secret)})

    assert done.status_code == 200
    assert "shown only now" in done.text
    codes = RecoveryCodes(
        Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    ).generate_codes()
    assert all(code in done.text for code in codes)
    assert signed_in(client)
    assert client.get("/admin/merchants/merchant/").status_code == 200


def test_a_session_without_a_second_factor_ends_once_it_is_required(settings):
    settings.STAFF_MFA_REQUIRED = False
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    client = Client()
    client.force_login(user)
    assert signed_in(client)

    settings.STAFF_MFA_REQUIRED = True

    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    client.get("/admin/login/")
    assert "_auth_user_id" not in client.session


def test_staff_set_one_up_voluntarily_and_turn_it_off_with_their_password(settings):
    settings.STAFF_MFA_REQUIRED = False
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    client = Client()
    client.force_login(user)
    assert "Two-factor authentication" in client.get("/admin/").text
    assert "off" in client.get("/admin/two-factor/").text

    client.get(ENROL)
    secret = client.session[staff_mfa.SECRET_KEY]
    assert client.post(ENROL, {"code": code_for(secret)}).status_code == 200
    assert staff_mfa.has_totp(user)

    renewed = client.post("/admin/two-factor/", {"do": "codes", "password": PASSWORD})
    assert "Your new recovery codes" in renewed.text
    refused = client.post("/admin/two-factor/", {"do": "off", "password": "wrong"})
    assert refused.status_code == 200
    assert staff_mfa.has_totp(user)
    client.post("/admin/two-factor/", {"do": "off", "password": PASSWORD})
    assert not Authenticator.objects.filter(user=user).exists()


def test_it_cannot_be_turned_off_where_it_is_required(settings):
    settings.STAFF_MFA_REQUIRED = True
    user = staff_with_totp()
    client = Client()
    client.force_login(user)

    client.post("/admin/two-factor/", {"do": "off", "password": PASSWORD})

    assert staff_mfa.has_totp(user)


def test_a_superuser_resets_a_colleagues_second_factor_and_it_is_logged():
    boss = get_user_model().objects.create_superuser("boss", "boss@example.com", PASSWORD)
    colleague = staff_with_totp("dana", superuser=False)
    client = Client()
    client.force_login(boss)
    listing = client.get("/admin/auth/user/")
    assert "Second factor" in listing.text

    response = client.post(
        "/admin/auth/user/",
        {"action": "reset_second_factor", "index": "0", "_selected_action": [colleague.pk]},
    )

    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=colleague).exists()
    entry = LogEntry.objects.get(object_id=str(colleague.pk))
    assert entry.user == boss
    assert "Second factor reset" in entry.get_change_message()


def test_only_a_superuser_may_reset_a_second_factor():
    staff_groups_sync()
    colleague = staff_with_totp("dana", superuser=False)
    ops = StaffFactory()
    ops.groups.add(Group.objects.get(name="Operations"))
    ops.user_permissions.add(*Group.objects.get(name="Operations").permissions.all())
    from django.contrib.auth.models import Permission

    ops.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="auth", codename__endswith="_user")
    )
    client = Client()
    client.force_login(ops)

    response = client.post(
        "/admin/auth/user/",
        {"action": "reset_second_factor", "index": "0", "_selected_action": [colleague.pk]},
    )

    assert response.status_code == 403
    assert Authenticator.objects.filter(user=colleague).exists()
