"""Signing in to the merchant portal: password, lockout, reset by email, TOTP (required
for owners), session limits, choosing a merchant, losing a membership."""

import re
import time

import pytest
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from merchants.models import MerchantMembership
from portals.access import MEMBERSHIP_KEY, SEEN_KEY, SIGNED_IN_KEY
from tests.merchants.factories import StaffFactory
from tests.portals.factories import (
    PASSWORD,
    portal_user,
    reauthenticate,
    signed_in,
    totp_code,
)

pytestmark = pytest.mark.django_db

LOGIN = "/portal/login/"


def sign_in(client: Client, email: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN, {"login": email, "password": password}, **extra)


def test_login_page_is_the_portals_own_and_offers_no_sign_up(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Sign in to your merchant portal" in page
    assert "core/design.css" in page
    assert "/portal/signup/" not in page


@pytest.mark.parametrize(
    "path", ["/portal/signup/", "/portal/email/", "/portal/confirm-email/", "/portal/login/code/"]
)
def test_pages_the_portal_does_not_offer_are_404(client, path):
    assert client.get(path).status_code == 404
    assert client.post(path, {"email": "x@example.com"}).status_code == 404


def test_analyst_signs_in_with_email_and_password_and_sees_the_overview(client, merchant):
    analyst = portal_user(merchant, "analyst", email="ana@example.com")

    response = sign_in(client, "Ana@Example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("portals:dashboard")
    page = client.get(reverse("portals:dashboard"))
    assert page.status_code == 200
    assert "Acme Coffee" in page.content.decode()
    assert "Analyst" in page.content.decode()
    assert client.session["_auth_user_id"] == str(analyst.pk)


def test_wrong_password_is_refused_with_a_message_and_no_session(client, merchant):
    portal_user(merchant, "analyst", email="ana@example.com")

    response = sign_in(client, "ana@example.com", "wrong password")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "not correct" in response.content.decode()


def test_unknown_email_is_refused_like_a_wrong_password(client):
    response = sign_in(client, "nobody@example.com", "whatever it is")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_lockout_after_repeated_failures_refuses_the_right_password(client, merchant):
    portal_user(merchant, "analyst", email="ana@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "ana@example.com", "wrong password")

    response = sign_in(client, "ANA@example.com")

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert response["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_address_so_another_address_may_still_sign_in(merchant):
    portal_user(merchant, "analyst", email="ana@example.com")
    attacker = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(attacker, "ana@example.com", "wrong password")
    assert sign_in(attacker, "ana@example.com").status_code == 429

    office = Client(REMOTE_ADDR="192.0.2.10")
    assert sign_in(office, "ana@example.com").status_code == 302


def test_fewer_failures_than_the_limit_do_not_lock(client, merchant):
    portal_user(merchant, "analyst", email="ana@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "ana@example.com", "wrong password")
    assert sign_in(client, "ana@example.com").status_code == 302


def test_admin_sign_in_still_works_beside_the_portal(client):
    staff = StaffFactory(username="ops")
    staff.set_password(PASSWORD)
    staff.save()
    response = client.post("/admin/login/?next=/admin/", {"username": "ops", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_password_reset_by_email_link_sets_a_new_password(client, merchant):
    portal_user(merchant, "support", email="sam@example.com")

    response = client.post("/portal/password/reset/", {"email": "sam@example.com"})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^\s]+/portal/password/reset/key/[^\s]+", mail.outbox[0].body)
    assert link
    path = "/" + link[0].split("/", 3)[3]
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    new_password = "a new long passphrase 2026"
    done = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else path,
        {"password1": new_password, "password2": new_password},
    )
    assert done.status_code == 302
    assert sign_in(Client(), "sam@example.com", new_password).status_code == 302
    assert sign_in(Client(), "sam@example.com").status_code == 200  # the old one is gone


def test_password_reset_for_an_unknown_email_sends_nothing_and_says_the_same(client):
    response = client.post("/portal/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 0


def test_owner_without_totp_is_sent_to_enrol_before_any_portal_page(client, merchant):
    owner = portal_user(merchant, "owner", email="olga@example.com", totp=False)
    sign_in(client, "olga@example.com")

    for name in ("portals:dashboard", "portals:members", "portals:team"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_activate_totp")

    asked = client.get(reverse("mfa_activate_totp"))
    assert asked.status_code == 302
    assert asked["Location"].startswith(reverse("account_reauthenticate"))
    reauthenticate(client)
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html
    assert "data:image" not in html
    secret = client.session["mfa.totp.secret"]

    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert wrong.status_code == 200
    assert not Authenticator.objects.filter(user=owner).exists()

    done = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert done.status_code == 302
    assert Authenticator.objects.filter(user=owner, type=Authenticator.Type.TOTP).exists()
    assert client.get(reverse("portals:dashboard")).status_code == 200


def test_owner_with_totp_must_give_a_code_after_the_password(client, merchant):
    owner = portal_user(merchant, "owner", email="olga@example.com")

    response = sign_in(client, "olga@example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    assert client.post(reverse("mfa_authenticate"), {"code": "123456"}).status_code == 200
    assert "_auth_user_id" not in client.session
    done = client.post(reverse("mfa_authenticate"), {"code": totp_code(owner.totp_secret)})
    assert done.status_code == 302
    assert client.get(reverse("portals:dashboard")).status_code == 200


def test_analyst_is_not_forced_to_enrol_and_may_enrol_from_the_account_page(client, merchant):
    portal_user(merchant, "analyst", email="ana@example.com")
    sign_in(client, "ana@example.com")

    assert client.get(reverse("portals:dashboard")).status_code == 200
    account = client.get(reverse("portals:account")).content.decode()
    assert reverse("mfa_activate_totp") in account


def test_owner_cannot_turn_totp_off_but_an_analyst_can(merchant):
    owner = portal_user(merchant, "owner")
    client = signed_in(owner)
    account = client.get(reverse("portals:account")).content.decode()
    assert reverse("mfa_deactivate_totp") not in account
    reauthenticate(client)
    client.post(reverse("mfa_deactivate_totp"))
    assert Authenticator.objects.filter(user=owner, type=Authenticator.Type.TOTP).exists()

    analyst = portal_user(merchant, "analyst", totp=True)
    client = signed_in(analyst)
    reauthenticate(client)
    assert client.post(reverse("mfa_deactivate_totp")).status_code == 302
    assert not Authenticator.objects.filter(user=analyst, type=Authenticator.Type.TOTP).exists()


def test_an_idle_session_ends(merchant):
    client = signed_in(portal_user(merchant, "analyst"))
    assert client.get(reverse("portals:dashboard")).status_code == 200
    session = client.session
    session[SEEN_KEY] = int(time.time()) - settings.PORTAL_SESSION_IDLE_MINUTES * 60 - 5
    session.save()

    response = client.get(reverse("portals:members"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


def test_a_session_ends_after_its_maximum_age_even_when_busy(merchant):
    client = signed_in(portal_user(merchant, "analyst"))
    assert client.get(reverse("portals:dashboard")).status_code == 200
    session = client.session
    session[SIGNED_IN_KEY] = int(time.time()) - settings.PORTAL_SESSION_MAX_HOURS * 3600 - 5
    session.save()

    response = client.get(reverse("portals:dashboard"))

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_session_within_both_limits_goes_on(merchant):
    client = signed_in(portal_user(merchant, "analyst"))
    assert client.get(reverse("portals:dashboard")).status_code == 200
    session = client.session
    session[SEEN_KEY] = int(time.time()) - settings.PORTAL_SESSION_IDLE_MINUTES * 60 + 60
    session.save()
    assert client.get(reverse("portals:dashboard")).status_code == 200


def test_a_user_of_two_merchants_chooses_one_and_sees_only_its_data(merchant, other_merchant):
    user = portal_user(merchant, "analyst", email="both@example.com")
    portal_user(other_merchant, "support", email="both@example.com")
    client = Client()
    sign_in(client, "both@example.com")

    response = client.get(reverse("portals:members"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portals:choose"))
    choose = client.get(response["Location"])
    assert "Acme Coffee" in choose.content.decode()
    assert "Bolt Bikes" in choose.content.decode()

    other = MerchantMembership.objects.get(user=user, merchant=other_merchant)
    chosen = client.post(
        reverse("portals:choose"), {"membership": other.pk, "next": reverse("portals:members")}
    )
    assert chosen["Location"] == reverse("portals:members")
    page = client.get(reverse("portals:dashboard")).content.decode()
    assert "Bolt Bikes" in page
    assert "Support" in page


def test_choosing_a_membership_of_someone_else_is_refused(merchant, other_merchant):
    user = portal_user(merchant, "analyst")
    portal_user(other_merchant, "analyst", email=user.email)
    stranger = portal_user(other_merchant, "owner")
    client = signed_in(user)
    theirs = MerchantMembership.objects.get(user=stranger)

    response = client.post(reverse("portals:choose"), {"membership": theirs.pk})

    assert response.status_code == 400
    assert MEMBERSHIP_KEY not in client.session
    assert client.post(reverse("portals:choose"), {"membership": "x"}).status_code == 400


def test_choose_ignores_a_next_address_off_the_portal(merchant, other_merchant):
    user = portal_user(merchant, "analyst")
    portal_user(other_merchant, "analyst", email=user.email)
    client = signed_in(user)
    mine = MerchantMembership.objects.get(user=user, merchant=merchant)
    for next_url in ("https://evil.example.com/", "//evil.example.com/", "/admin/"):
        response = client.post(reverse("portals:choose"), {"membership": mine.pk, "next": next_url})
        assert response["Location"] == reverse("portals:dashboard")


def test_a_removed_membership_ends_access_at_the_next_request(merchant):
    client = signed_in(portal_user(merchant, "analyst"))
    assert client.get(reverse("portals:members")).status_code == 200

    MerchantMembership.objects.filter(merchant=merchant).delete()

    response = client.get(reverse("portals:members"))
    assert response.status_code == 403
    assert "no access to a merchant portal" in response.content.decode()


def test_a_removed_membership_falls_back_to_the_users_other_merchant(merchant, other_merchant):
    user = portal_user(merchant, "analyst")
    portal_user(other_merchant, "support", email=user.email)
    client = signed_in(user)
    client.post(
        reverse("portals:choose"),
        {"membership": MerchantMembership.objects.get(user=user, merchant=merchant).pk},
    )
    assert "Acme Coffee" in client.get(reverse("portals:dashboard")).content.decode()

    MerchantMembership.objects.filter(user=user, merchant=merchant).delete()

    page = client.get(reverse("portals:dashboard")).content.decode()
    assert "Bolt Bikes" in page
    assert "Acme Coffee" not in page


def test_a_user_without_membership_gets_the_no_access_page(client):
    staff = StaffFactory()
    client.force_login(staff)
    response = client.get(reverse("portals:dashboard"))
    assert response.status_code == 403
    assert "no access to a merchant portal" in response.content.decode()
    assert client.get(reverse("portals:choose")).status_code == 403


def test_anonymous_visitors_are_sent_to_the_portal_sign_in(client):
    for name in ("portals:dashboard", "portals:members", "portals:team", "portals:choose"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login") + "?next=")


def test_sign_out_is_a_post_and_ends_the_session(merchant):
    client = signed_in(portal_user(merchant, "analyst"))
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_an_offboarded_merchants_portal_closes_and_a_suspended_ones_stays(merchant):
    from core.actors import SYSTEM
    from merchants.services.lifecycle import merchant_transition

    client = signed_in(portal_user(merchant, "analyst"))
    merchant_transition(merchant=merchant, to_status="suspended", reason="unpaid", actor=SYSTEM)
    assert client.get(reverse("portals:dashboard")).status_code == 200

    merchant_transition(merchant=merchant, to_status="offboarded", reason="left", actor=SYSTEM)

    response = client.get(reverse("portals:dashboard"))
    assert response.status_code == 403
    assert "no access to a merchant portal" in response.content.decode()


@pytest.mark.parametrize("path", ["/portal/login/", "/portal/password/reset/"])
def test_portal_pages_carry_the_strict_content_security_policy(client, path):
    policy = client.get(path)["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "data:" not in policy


def test_the_portal_pages_have_no_inline_script_or_style(merchant):
    client = signed_in(portal_user(merchant, "owner"))
    for name in ("portals:dashboard", "portals:members", "portals:team", "portals:account"):
        page = client.get(reverse(name)).content.decode()
        assert "<script" not in page
        assert "style=" not in page
        assert "<style" not in page
