"""An agent works a ticket in a real browser (Debian's Chromium): the canned reply is
inserted at the cursor by the page's script, filled for this member, then sent."""

import pytest
from django.contrib.auth.models import Group

from customercare.models import CannedReply, MessageKind
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
]


def test_an_agent_inserts_a_canned_reply_and_sends_it(server_url, page, tmp_path):  # noqa: F811
    merchant = care_merchant()
    ticket = ticket_open(member_of(merchant, 1200))
    CannedReply.objects.create(
        title="Balance", body="you have {points_balance} {points_name}, {member_name}."
    )
    agent = agent_make(available=False, username="alice")
    agent.set_password("a-long-pass-phrase")
    agent.save()
    assert agent.groups.filter(name="Customer care").exists()
    assert Group.objects.filter(name="Customer care").exists()

    page.goto(f"{server_url}/admin/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "a-long-pass-phrase")
    page.click("#login-form [type=submit]")
    page.goto(f"{server_url}/admin/customercare/ticket/{ticket.pk}/change/")
    body = page.locator("#reply-form textarea[name=reply-body]")
    body.fill("Hello Ana, ")
    body.press("End")
    page.select_option("#reply-form select[name=reply-canned]", label="Balance")
    page.click("#reply-form input[name=insert]")

    assert body.input_value() == "Hello Ana, you have 1200 Points, Ana."
    assert page.url.endswith(f"/ticket/{ticket.pk}/change/")  # the script did it, no post
    page.screenshot(path=str(tmp_path / "ticket.png"), full_page=True)

    page.click("#reply-form input[name=send]")
    page.wait_for_url(f"**/admin/customercare/ticket/{ticket.pk}/change/")
    assert page.get_by_text("Reply sent to the member.").is_visible()
    sent = ticket.messages.get(kind=MessageKind.PUBLIC, author=agent)
    assert sent.body == "Hello Ana, you have 1200 Points, Ana."
