"""The referral figures and the referral link's pages in a real browser (Debian's
Chromium): axe-core finds no serious or critical violation at 390 px and 1440 px under
the strict Content-Security-Policy, and the screenshots go to ``var/screenshots/portal/``
for someone to look at."""

import pytest

from tests.config.test_csp_browser import Watch
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401
from tests.portals.factories import portal_user
from tests.portals.test_portal_browser import shots, sign_in
from tests.portals.test_referrals_page import referrals_on

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def shop(transactional_db):
    from tests.portals.conftest import side

    shop = side("Northwind Coffee Roasters", "nw-cust-1", "ana@northwind.example")
    referrals_on(shop, qualified=3, blocked=2, flagged=1, pending=4)
    return shop


def test_an_analyst_reads_the_referral_figures(server_url, page, shop):  # noqa: F811
    portal_user(shop.merchant, "analyst", email="analyst@northwind.example")
    watch = Watch(page)
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, server_url, "analyst@northwind.example")
    page.wait_for_url(f"{server_url}/portal/")

    page.get_by_role("link", name="Referrals").click()
    page.wait_for_url(f"{server_url}/portal/referrals/")

    assert page.locator("h1").inner_text() == "Referrals"
    assert "2,250" in page.locator(".tiles").inner_text()  # 3 times (500 + 250)
    shots(page, watch, "referrals")


def test_an_unknown_referral_link_is_a_friendly_page(server_url, page):  # noqa: F811
    watch = Watch(page)
    response = page.goto(f"{server_url}/r/NOSUCH23")

    assert response.status == 404
    assert "does not work" in page.locator("h1").inner_text()
    shots(page, watch, "referral-link-unknown")
