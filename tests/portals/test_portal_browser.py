"""The merchant portal in a real browser (Debian's Chromium): an owner signs in and
enrols an authenticator, an analyst and a support user sign in; each opens every page it
may. No Content-Security-Policy violation or script error, axe-core finds no serious or
critical violation, and screenshots at 390 px and 1440 px wide go to
``var/screenshots/portal/`` (``SCREENSHOT_DIR`` to change the parent) for someone to look
at."""

import pytest
from django.conf import settings
from django.utils import timezone

from core.actors import SYSTEM
from merchants.models import MerchantMembership
from merchants.services.webhook_endpoints import webhook_endpoint_create
from portals.member_exports import member_exports_make
from tests.catalog.factories import merchant_with_program
from tests.config.test_csp_browser import SCREENSHOTS, Watch, screenshots
from tests.loyalty.factories import member_make, points_give
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401
from tests.portals.factories import PASSWORD, portal_user, totp_code

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


def shots(page, watch: Watch, name: str) -> None:  # noqa: F811
    watch.assert_clean(name)
    screenshots(page, f"portal/{name}")


def sign_in(page, server_url: str, email: str) -> None:  # noqa: F811
    page.goto(f"{server_url}/portal/login/")
    page.fill("#id_login", email)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")


def sign_out(page) -> None:  # noqa: F811
    page.locator("header button", has_text="Sign out").click()
    page.wait_for_url("**/portal/login/")


@pytest.fixture
def shop(transactional_db):
    merchant, program = merchant_with_program()
    merchant.name = "Northwind Coffee Roasters"
    merchant.save(update_fields=["name"])
    program.name = "Northwind Rewards"
    program.points_name = "Beans"
    program.save(update_fields=["name", "points_name"])
    members = [
        member_make(
            merchant,
            f"cust-{n:04d}",
            points=120 * n,
            email=f"customer{n}@example.com",
            first_name=f"Customer {n}",
        )
        for n in range(1, 8)
    ]
    points_give(members[0], 50, reason="late delivery")
    return merchant, members


def test_every_role_opens_its_pages_accessibly(server_url, page, shop):  # noqa: F811
    merchant, members = shop
    owner = portal_user(merchant, "owner", email="owner@northwind.example", totp=False)
    portal_user(merchant, "analyst", email="analyst@northwind.example")
    portal_user(merchant, "support", email="support@northwind.example")
    watch = Watch(page)
    print(f"\nPortal screenshots: {SCREENSHOTS / 'portal'}")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server_url}/portal/login/")
    shots(page, watch, "login")

    # The owner enrols an authenticator before any portal page.
    sign_in(page, server_url, "owner@northwind.example")
    page.wait_for_url("**/portal/reauthenticate/**")
    shots(page, watch, "reauthenticate")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/portal/2fa/totp/activate/")
    assert page.locator(".qr svg").is_visible()
    shots(page, watch, "totp-activate")
    secret = page.inner_text("#authenticator_secret").strip()
    page.fill("#id_code", totp_code(secret))
    page.click("main button[type=submit]")
    page.wait_for_url("**/portal/2fa/recovery-codes/")
    shots(page, watch, "recovery-codes")

    owner_pages = {
        "owner-dashboard": "/portal/",
        "owner-members": "/portal/members/",
        "owner-member": f"/portal/members/{members[0].external_id}/",
        "owner-team": "/portal/team/",
        "owner-account": "/portal/account/",
        "owner-member-exports": "/portal/members/exports/",
        "owner-webhooks": "/portal/webhooks/",
    }
    member_exports_make(now=timezone.now())
    endpoint, _ = webhook_endpoint_create(
        merchant=merchant,
        url="http://127.0.0.1:9999/northwind/crm",
        event_types=["member.created", "points.earned", "tier.changed"],
        description="CRM sync",
        actor=SYSTEM,
    )
    owner_pages["owner-webhook"] = f"/portal/webhooks/{endpoint.pk}/"
    owner_pages["owner-webhook-manage"] = f"/portal/webhooks/{endpoint.pk}/manage/"
    for name, path in owner_pages.items():
        page.goto(f"{server_url}{path}")
        assert page.locator("h1").first.is_visible(), name
        shots(page, watch, name)
    analyst = MerchantMembership.objects.get(user__email="analyst@northwind.example")
    page.goto(f"{server_url}/portal/team/{analyst.pk}/role/")
    shots(page, watch, "owner-team-role")
    page.goto(f"{server_url}/portal/team/{analyst.pk}/remove/")
    shots(page, watch, "owner-team-remove")
    page.goto(f"{server_url}/portal/members/?q=customer3")
    assert page.locator("tbody tr").count() == 1
    shots(page, watch, "owner-members-search")
    sign_out(page)
    assert owner.pk

    for role in ("analyst", "support"):
        sign_in(page, server_url, f"{role}@northwind.example")
        page.wait_for_url(f"{server_url}/portal/")
        for name, path in {
            "dashboard": "/portal/",
            "members": "/portal/members/",
            "member": f"/portal/members/{members[0].external_id}/",
            "account": "/portal/account/",
            "password-change": "/portal/password/change/",
        }.items():
            page.goto(f"{server_url}{path}")
            shots(page, watch, f"{role}-{name}")
        response = page.goto(f"{server_url}/portal/team/")
        assert response.status == 403
        shots(page, watch, f"{role}-team-refused")
        sign_out(page)

    page.goto(f"{server_url}/portal/password/reset/")
    shots(page, watch, "password-reset")


def test_a_locked_out_sign_in_shows_the_portal_page(server_url, page, shop):  # noqa: F811
    merchant, _ = shop
    portal_user(merchant, "analyst", email="analyst@northwind.example")
    watch = Watch(page)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto(f"{server_url}/portal/login/")
        page.fill("#id_login", "analyst@northwind.example")
        page.fill("#id_password", "wrong password")
        page.click("main button[type=submit]")
    sign_in(page, server_url, "analyst@northwind.example")
    assert "Too many failed sign-ins" in page.content()
    shots(page, watch, "login-locked")
