"""The ops console's search box in a real browser (Debian's Chromium), under the admin's
Content-Security-Policy: the sidebar's box and Ctrl+K open unfold's command palette, the
results come as the term is typed, Enter or a click opens the record; without JavaScript
the same box sends the term to the search page. Screenshots at 390 and 1440 px, each
checked by axe-core (``tests/config/test_csp_browser.py``)."""

import re

import pytest
from django.contrib.auth import get_user_model

from core.actors import SYSTEM
from loyalty.services.programs import program_configure
from tests.config.test_csp_browser import PASSWORD, screenshots, sign_in, watch  # noqa: F401
from tests.loyalty.factories import PROGRAM_TERMS, member_make
from tests.merchants.factories import MerchantFactory
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


def shop():
    get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    merchant = MerchantFactory(
        live=True, name="Maison Lumière", slug="maison-lumiere", country="US"
    )
    program_configure(merchant=merchant, actor=SYSTEM, **PROGRAM_TERMS)
    ana = member_make(
        merchant,
        "cust-ana-4471",
        email="ana.ruiz@example.com",
        phone="+33 6 12 34 56 78",
        first_name="Ana",
        last_name="Ruiz",
    )
    member_make(merchant, "cust-ana-4472", email="ana.rivera@example.com", first_name="Ana")
    return ana


def results(page):  # noqa: F811
    return page.locator("#command-results-list a")


def test_the_search_box_finds_a_member_and_opens_it(server_url, page, watch):  # noqa: F811
    ana = shop()
    sign_in(page, server_url, "ops")
    member_page = re.compile(rf".*/admin/loyalty/member/{ana.pk}/change/$")

    # A click on the sidebar's box opens the palette; the results come as one types.
    page.locator("#ops-search-input").click()
    palette = page.locator("#search-input-command")
    palette.wait_for(state="visible")
    palette.press_sequentially("ana.ruiz@", delay=30)
    results(page).first.wait_for()
    assert results(page).count() == 1
    assert "Ana Ruiz · ana.ruiz@example.com — Maison Lumière" in results(page).first.inner_text()
    screenshots(page, "admin-search-palette")
    watch.assert_clean("the palette's results")

    # Enter opens the one chosen with the arrow keys.
    palette.press("ArrowDown")
    palette.press("Enter")
    page.wait_for_url(member_page)
    watch.assert_clean("the member opened from the palette")

    # Ctrl+K opens it on any page; a click on a result opens that record.
    page.keyboard.press("Control+k")
    palette.wait_for(state="visible")
    palette.press_sequentially("cust-ana", delay=30)
    page.locator("#command-results-list a", has_text="ana.rivera@example.com").click()
    page.wait_for_url(re.compile(r".*/admin/loyalty/member/\d+/change/$"))
    assert not member_page.match(page.url)
    watch.assert_clean("the palette by its shortcut")


def test_the_box_sends_the_term_to_the_search_page_which_works_without_javascript(
    server_url,  # noqa: F811
    page,  # noqa: F811
    watch,  # noqa: F811
):
    ana = shop()
    sign_in(page, server_url, "ops")
    member_page = re.compile(rf".*/admin/loyalty/member/{ana.pk}/change/$")
    # Typed into (not clicked), the sidebar's box is a plain form: Enter sends it.
    page.fill("#ops-search-input", "+33612345678")
    page.press("#ops-search-input", "Enter")
    page.wait_for_url(re.compile(r".*/admin/search/all/\?q=.*"))
    link = page.get_by_role("link", name=re.compile("Ana Ruiz"))
    assert link.count() == 1
    screenshots(page, "admin-search-page")
    watch.assert_clean("the search page")

    # Without JavaScript the page still lists the records as links. (unfold's frame hides
    # a page until its scripts run: the HTML is read here, not looked at.)
    plain = page.context.browser.new_context(java_script_enabled=False)
    plain.add_cookies(page.context.cookies())
    no_js = plain.new_page()
    no_js.goto(f"{server_url}/admin/search/all/?q=ana.ruiz%40example.com")
    found = no_js.locator("#content-main a", has_text="Ana Ruiz")
    assert found.count() == 1
    no_js.goto(f"{server_url}{found.get_attribute('href')}")
    assert member_page.match(no_js.url)
    plain.close()
