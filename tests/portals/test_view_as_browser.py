"""Viewing a merchant's portal as the merchant, in a real browser (Debian's Chromium),
under the site's Content-Security-Policy: from the merchant's page in the admin to the
portal with its read-only banner, and back with End. Screenshots at 390 px and 1440 px
(``var/screenshots/portal-view-as-*``), each checked with axe-core."""

import pytest
from django.contrib.auth.models import Group

from tests.catalog.factories import merchant_with_program
from tests.config.test_csp_browser import PASSWORD, screenshots, sign_in, watch  # noqa: F401
from tests.merchants.factories import StaffFactory
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


def test_staff_view_the_portal_read_only_and_end_it(server_url, page, watch):  # noqa: F811
    from core.staff_groups import staff_groups_sync

    staff_groups_sync()
    merchant, _ = merchant_with_program()
    merchant.name = "Maison Lumière"
    merchant.save(update_fields=["name"])
    staff = StaffFactory(username="ops", email="ops@provider.example", password=PASSWORD)
    staff.groups.add(Group.objects.get(name="Operations"))

    sign_in(page, server_url, "ops")
    page.goto(f"{server_url}/admin/merchants/merchant/{merchant.pk}/change/")
    page.get_by_text("View the portal as this merchant").click()
    page.wait_for_url(f"{server_url}/admin/merchants/merchant/{merchant.pk}/view-portal/")
    page.get_by_text("Open the portal read-only").click()
    page.wait_for_url(f"{server_url}/portal/")
    banner = page.locator(".view-as-banner")
    assert "Maison Lumière" in banner.inner_text()
    assert "read-only" in banner.inner_text()
    screenshots(page, "portal-view-as-dashboard")
    watch.assert_clean("portal viewed as the merchant")

    page.goto(f"{server_url}/portal/team/")
    page.locator("form[method=post] [type=submit]").last.click()
    assert page.locator("h1").inner_text() == "Nothing can be changed in this view"
    screenshots(page, "portal-view-as-refused")

    banner.get_by_role("button", name="End").click()
    page.wait_for_url(f"{server_url}/admin/merchants/merchant/{merchant.pk}/change/")
    watch.assert_clean("portal view ended")
