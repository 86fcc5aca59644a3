"""The segment page in a real browser (Debian's Chromium): a marketer builds a segment,
previews it in place (htmx) and saves it; no policy violation or script error, axe-core
finds nothing serious, the page never runs wider than the screen, and screenshots at
390 px and 1440 px go to ``var/screenshots/segments/``."""

import pytest
from django.contrib.auth.models import Group

from core.staff_groups import staff_groups_sync
from loyalty.models import Segment
from tests.config.test_csp_browser import PASSWORD, Watch, screenshots, sign_in
from tests.loyalty.factories import member_make, program_merchant
from tests.merchants.factories import StaffFactory
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


def no_sideways_scroll(page, where: str) -> None:  # noqa: F811
    for width in (390, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{where} is {wide} px wide at {width} px"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_marketer_builds_and_previews_a_segment(server_url, page):  # noqa: F811
    merchant, _ = program_merchant()
    merchant.name = "Fjord Gear"
    merchant.save(update_fields=["name"])
    for i in range(30):
        member_make(
            merchant,
            f"fjord-customer-{i:03d}",
            email=f"customer{i}@fjord-gear.example",
            country="NO" if i % 3 else "SE",
            marketing_consent=i % 2 == 0,
        )
    staff_groups_sync()
    marketer = StaffFactory(username="marketer", password=PASSWORD)
    marketer.groups.add(Group.objects.get(name="Marketing"))
    watch = Watch(page)
    sign_in(page, server_url, "marketer")

    page.goto(f"{server_url}/admin/loyalty/segment/add/")
    page.select_option("#id_merchant", label="Fjord Gear")
    page.fill("#id_name", "Norway, consenting")
    page.select_option("#id_c-0-field", "country")
    page.select_option("#id_c-0-op", "in")
    page.fill("#id_c-0-value", "NO")
    page.fill("#id_c-1-group", "2")
    page.select_option("#id_c-1-field", "marketing_consent")
    page.select_option("#id_c-1-op", "is")
    page.fill("#id_c-1-value", "yes")
    page.click("button[name=_preview]")
    preview = page.locator("#segment-preview")
    preview.get_by_text("members match now").wait_for()
    assert "10 members match now" in preview.inner_text()
    # In place: the rows the marketer typed are still there, untouched.
    assert page.input_value("#id_c-0-value") == "NO"
    watch.assert_clean("segment preview")
    no_sideways_scroll(page, "segment builder")
    screenshots(page, "segments/builder-preview")

    page.click("input[name=_save]")
    page.wait_for_url("**/change/")
    segment = Segment.objects.get()
    assert segment.definition["groups"][0]["conditions"][0]["value"] == ["NO"]
    page.select_option("#id_c-0-op", "between")
    page.click("input[name=_save]")
    page.locator(".errornote").first.wait_for()
    watch.assert_clean("segment error")
    screenshots(page, "segments/builder-error")

    page.goto(f"{server_url}/admin/loyalty/segment/")
    no_sideways_scroll(page, "segment list")
    screenshots(page, "segments/list")
    watch.assert_clean("segment list")
