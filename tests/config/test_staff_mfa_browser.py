"""The admin's two-factor sign-in in a real browser (Debian's Chromium), under the site's
Content-Security-Policy: the code page after the password, and the enrolment page with its
inline SVG QR code where a second factor is required. Screenshots at 390 px and 1440 px
(``var/screenshots/admin-mfa-*``), each checked with axe-core."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth import get_user_model
from django.core.cache import cache

from tests.config.test_csp_browser import PASSWORD, screenshots, watch  # noqa: F401
from tests.config.test_staff_mfa import code_for
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


def password_step(page, server_url: str, username: str) -> None:  # noqa: F811
    page.goto(f"{server_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]")


def test_staff_sign_in_with_a_code_from_their_app(server_url, page, watch):  # noqa: F811
    cache.clear()
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)

    password_step(page, server_url, "ops")
    page.wait_for_url(f"{server_url}/admin/two-factor/code/")
    assert page.locator("#id_code").is_visible()
    screenshots(page, "admin-mfa-code")
    page.fill("#id_code", "000000" if code_for(secret) != "000000" else "111111")
    page.click("#staff-mfa-code-form [type=submit]")
    assert "not right" in page.content()
    screenshots(page, "admin-mfa-code-wrong")
    page.fill("#id_code", code_for(secret))
    page.click("#staff-mfa-code-form [type=submit]")
    page.wait_for_url(f"{server_url}/admin/")
    watch.assert_clean("admin two-factor sign-in")

    page.goto(f"{server_url}/admin/two-factor/")
    screenshots(page, "admin-mfa-manage")
    watch.assert_clean("admin two-factor page")


def test_production_asks_staff_to_set_up_their_app_first(
    server_url,  # noqa: F811
    page,  # noqa: F811
    watch,  # noqa: F811
    settings,
):
    cache.clear()
    settings.STAFF_MFA_REQUIRED = True
    get_user_model().objects.create_superuser("dana", "dana@example.com", PASSWORD)

    password_step(page, server_url, "dana")
    page.wait_for_url(f"{server_url}/admin/two-factor/set-up/")
    assert page.locator(".staff-mfa-qr svg").is_visible()
    screenshots(page, "admin-mfa-enrol")
    secret = page.locator("#staff-mfa-secret").inner_text().strip()
    page.fill("#id_code", code_for(secret))
    page.click("#staff-mfa-enrol-form [type=submit]")
    assert page.locator(".staff-mfa-codes li").count() == 10
    screenshots(page, "admin-mfa-recovery-codes")
    page.get_by_text("I have saved them").click()
    page.wait_for_url(f"{server_url}/admin/")
    watch.assert_clean("admin two-factor enrolment")
