"""Every kind of page still works in a real browser (Debian's Chromium) under the site's
Content-Security-Policy and Permissions-Policy: the browser reports no violation (in the
console or as a ``securitypolicyviolation`` event) and no script error, and the page's
scripts do their work.

Screenshots of the member's pages at 390 px and 1440 px wide go to ``var/screenshots/``
(``SCREENSHOT_DIR`` to change it) for someone to look at; they are not kept in the repo.
Each of those pages is checked with axe-core (WCAG 2.1 A and AA rules) at both widths:
no serious or critical violation.
"""

import os
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model

from customercare.links import ticket_token
from customercare.models import CannedReply, FAQEntry, MessageAuthor, MessageKind
from fulfillment.models import CodeReveal
from fulfillment.services import delivery
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open
from tests.fulfillment.test_delivery import delivered, the_code
from tests.merchants.factories import MerchantFactory
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]

BASE_DIR = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", BASE_DIR / "var" / "screenshots"))
WIDTHS = (390, 1440)
PASSWORD = "a-long-pass-phrase"

# Reports every violation as a console error too, whatever the browser logs itself.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`
    + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""
PROBLEM = re.compile(r"Content.Security.Policy|CSP violation|Permissions.Policy|Refused to", re.I)


class Watch:
    """What went wrong in the page: policy violations, and script errors."""

    def __init__(self, page) -> None:  # noqa: F811
        self.problems: list[str] = []
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))

    def _console(self, message) -> None:
        if PROBLEM.search(message.text):
            self.problems.append(f"{message.type}: {message.text}")

    def assert_clean(self, where: str) -> None:
        assert self.problems == [], f"{where}: {self.problems}"


@pytest.fixture
def watch(page):  # noqa: F811
    return Watch(page)


AXE = Axe()
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def assert_accessible(page, where: str) -> None:  # noqa: F811
    """axe-core finds no serious or critical violation on the page as it is now."""
    violations = AXE.run(page, options=AXE_OPTIONS).response["violations"]
    serious = [
        f"{v['id']} ({v['impact']}): {[node['target'] for node in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in {"serious", "critical"}
    ]
    assert serious == [], f"{where}: {serious}"


def screenshots(page, name: str) -> None:  # noqa: F811
    """The page at each width, whole, checked by axe-core at each; back at the first
    width afterwards."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        assert_accessible(page, f"{name} at {width} px")
    page.set_viewport_size({"width": 1280, "height": 900})


def sign_in(page, server_url: str, username: str) -> None:  # noqa: F811
    page.goto(f"{server_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_url(f"{server_url}/admin/")


def test_the_admin_works_under_the_policy(server_url, page, watch, settings):  # noqa: F811
    get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    merchant = MerchantFactory(name="Fjord Gear", slug="fjord-gear")
    page.goto(f"{server_url}/admin/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.fill("#id_username", "eve")
        page.fill("#id_password", "guess")
        page.click("#login-form [type=submit]")
    assert page.locator("h1").inner_text() == "Too many failed sign-ins"
    screenshots(page, "admin-locked")
    watch.assert_clean("admin lockout page")

    sign_in(page, server_url, "ops")
    watch.assert_clean("admin login")

    page.goto(f"{server_url}/admin/merchants/merchant/")
    assert page.locator("#result_list", has_text="Fjord Gear").is_visible()
    # The change list's own scripts: the action bar counts the ticked rows.
    page.locator("input.action-select").first.check()
    assert "1 of 1 selected" in page.locator(".action-counter").inner_text()
    watch.assert_clean("merchant change list")

    page.goto(f"{server_url}/admin/merchants/merchant/{merchant.pk}/change/")
    assert page.locator("#merchant_form").is_visible()
    watch.assert_clean("merchant change page")

    page.goto(f"{server_url}/admin/merchants/merchant/{merchant.pk}/history/")
    watch.assert_clean("merchant history page")

    page.goto(f"{server_url}/admin/loyalty/member/export/")
    email = page.locator("#id_memberresource_email")
    assert email.is_checked()
    email.uncheck()  # unfold's export form: the fields to export, no inline handler
    assert email.is_checked() is False
    watch.assert_clean("member export page")

    page.goto(f"{server_url}/admin/django_celery_beat/periodictask/add/")
    assert page.locator("#periodictask_form").is_visible()
    assert page.locator(".field-crontab_translation").is_hidden()  # its hashed script ran
    watch.assert_clean("periodic task page")

    page.goto(f"{server_url}/admin/axes/accessattempt/")
    watch.assert_clean("access attempts")


def test_the_care_ticket_page_inserts_a_canned_reply_under_the_policy(
    server_url,  # noqa: F811
    page,  # noqa: F811
    watch,
):
    merchant = care_merchant()
    ticket = ticket_open(member_of(merchant, 1200))
    CannedReply.objects.create(title="Balance", body="you have {points_balance} {points_name}.")
    agent = agent_make(available=False, username="alice")
    agent.set_password(PASSWORD)
    agent.save()

    sign_in(page, server_url, "alice")
    page.goto(f"{server_url}/admin/customercare/ticket/{ticket.pk}/change/")
    body = page.locator("#reply-form textarea[name=reply-body]")
    body.fill("Hello Ana, ")
    body.press("End")
    page.select_option("#reply-form select[name=reply-canned]", label="Balance")
    page.click("#reply-form input[name=insert]")

    assert body.input_value() == "Hello Ana, you have 1200 Points."
    assert page.url.endswith(f"/ticket/{ticket.pk}/change/")  # the script did it, no post
    # The page's stylesheet is applied: the member panel sits beside the thread.
    assert page.locator(".care-columns").evaluate("e => getComputedStyle(e).display") == "flex"
    screenshots(page, "admin-care-ticket")
    watch.assert_clean("care ticket page")

    page.goto(f"{server_url}/admin/customercare/ticket/reports/")
    filters = page.locator("#report-form .report-filter").first
    assert filters.evaluate("e => getComputedStyle(e).display") == "inline-block"
    screenshots(page, "admin-care-reports")
    watch.assert_clean("care reports page")


def test_the_claim_page_reveals_the_code_under_the_policy(
    server_url,  # noqa: F811
    page,  # noqa: F811
    watch,
    settings,
):
    settings.CLAIM_POST_RATE = (2, 600)
    redemption = delivered(deliver=False)
    code = the_code(redemption)
    page.goto(f"{server_url}/claim/{delivery.claim_token(redemption)}/")
    # The stylesheet is applied (it is a file now, not an inline block).
    assert page.locator("body").evaluate("e => getComputedStyle(e).margin") == "0px"
    screenshots(page, "claim-opened")

    page.get_by_role("button", name="Show my code").click()
    page.wait_for_selector(".code")
    assert page.locator(".code").first.inner_text() == code.code
    assert page.locator(".qr svg").first.is_visible()
    screenshots(page, "claim-revealed")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the voucher (PDF)").click()
    assert download.value.path().read_bytes().startswith(b"%PDF")
    # A third POST through the link is one too many.
    page.get_by_role("button", name="Download the voucher (PDF)").click()
    page.wait_for_selector("text=Please wait a few minutes")
    screenshots(page, "claim-refused")
    page.get_by_role("link", name="Back to your reward").click()
    assert page.get_by_role("button", name="Show my code").is_visible()

    watch.assert_clean("claim page")
    assert CodeReveal.objects.filter(code=code).count() == 2


def test_the_member_ticket_and_help_pages_work_under_the_policy(
    server_url,  # noqa: F811
    page,  # noqa: F811
    watch,
    settings,
):
    settings.CARE_TICKET_POST_RATE = (1, 600)
    merchant = care_merchant()
    FAQEntry.objects.create(
        merchant=merchant, question_en="When?", answer_en="Soon.", position=1, is_published=True
    )
    ticket = ticket_open(member_of(merchant, 300), subject="Points missing")

    page.goto(f"{server_url}/care/t/{ticket_token(ticket)}/")
    assert page.locator("main .panel").first.evaluate("e => getComputedStyle(e).borderRadius") == (
        "10px"
    )
    screenshots(page, "care-ticket")
    page.fill("#id_message", "Any news?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_selector(".notice")
    screenshots(page, "care-ticket-sent")
    assert ticket.messages.filter(
        kind=MessageKind.PUBLIC, author_type=MessageAuthor.MEMBER, body="Any news?"
    ).exists()
    page.fill("#id_message", "Hello again?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_selector(".error")
    assert page.locator("#id_message").input_value() == "Hello again?"
    screenshots(page, "care-ticket-refused")

    page.goto(f"{server_url}/care/help/{merchant.slug}/")
    assert page.get_by_text("When?").is_visible()
    page.goto(f"{server_url}/care/help/{merchant.slug}/terms/?lang=ar")
    watch.assert_clean("member pages")


def test_the_api_docs_work_under_the_policy(server_url, page, watch):  # noqa: F811
    requests = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{server_url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=20_000)
    page.locator(".opblock-summary").first.click()
    page.wait_for_selector(".opblock-body")

    watch.assert_clean("API docs")
    # Everything it loads comes from this site: the sidecar's files, never a CDN.
    assert requests
    assert [url for url in requests if not url.startswith((server_url, "data:"))] == []
