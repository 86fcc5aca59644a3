"""The member page in a real browser (Debian's Chromium): the summary, the tabs and each
tab's table at 390 and 1440 px, read by axe-core, with no sideways scroll of the page."""

import pytest
from django.contrib.auth import get_user_model

from tests.catalog.factories import merchant_with_program
from tests.config.test_csp_browser import PASSWORD, screenshots, sign_in
from tests.customercare.factories import member_of, ticket_open
from tests.fulfillment.factories import redemption_delivered
from tests.loyalty.factories import order_post
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
]


def test_the_member_page_reads_well_on_a_phone_and_a_desktop(server_url, page):  # noqa: F811
    get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    merchant, _ = merchant_with_program()
    member = member_of(merchant, 5000)
    order_post(merchant, member, "120", external_id="o-42")
    redemption_delivered(merchant, member)
    ticket_open(member, subject="Where is my card?")
    sign_in(page, server_url, "ops")
    url = f"{server_url}/admin/loyalty/member/{member.pk}/change/"

    for tab in ("", "points", "redemptions", "tickets", "history"):
        page.goto(f"{url}?tab={tab}" if tab else url)
        assert page.locator(".ops-tabs [aria-current=page]").count() == 1
        screenshots(page, f"admin-member-{tab or 'profile'}")
        for width in (390, 1440):
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (tab, width)

    page.goto(f"{url}?tab=points")
    page.locator(".ops-tabs a", has_text="Tickets").click()
    assert "Where is my card?" in page.locator(".ops-tab-panel").inner_text()
