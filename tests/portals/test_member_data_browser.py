"""A member asks for their data in a real browser (Debian's Chromium): the profile's
button, the email with its link, and the ZIP archive downloaded from the portal with
their profile, ledger, orders, redemptions and tickets in it; then the deletion request.
Screenshots of the profile at each step go to ``var/screenshots/member-portal/``."""

import io
import json
import re
import zipfile
from urllib.parse import urlsplit

import pytest
from django.core import mail

from customercare.models import MemberDataExport
from loyalty.models import Member
from tests.config.test_csp_browser import Watch, screenshots
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401
from tests.portals.test_member_portal_browser import northwind, sign_in_by_the_store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


def test_a_member_downloads_their_data_and_asks_to_be_deleted(server_url, page):  # noqa: F811
    shop = northwind()
    watch = Watch(page)
    base = f"{server_url}{shop.base}"
    sign_in_by_the_store(page, server_url, shop)

    page.goto(f"{base}/profile/")
    page.get_by_role("button", name="Email me my data").click()
    page.wait_for_url(re.compile(r".*/profile/\?data=requested"))
    assert "We are preparing your data" in page.locator("main").inner_text()
    screenshots(page, "member-portal/profile-data-requested")

    # The task made the archive and emailed its link (tasks run at once in tests).
    (email,) = [message for message in mail.outbox if "data" in message.subject.lower()]
    assert email.to == ["ana@example.com"]
    link = urlsplit(re.search(r"https?://\S+\.zip", email.body).group(0))
    page.goto(f"{base}/profile/")
    screenshots(page, "member-portal/profile-data-ready")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download my data").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"{shop.merchant.slug}-my-data-")
    with open(download.path(), "rb") as file:
        archive = zipfile.ZipFile(io.BytesIO(file.read()))
    names = set(archive.namelist())
    assert {name.rsplit(".", 1)[-1] for name in names} >= {"json", "csv"}
    text = "\n".join(archive.read(name).decode() for name in names if name.endswith(".json"))
    assert "ana@example.com" in text
    assert "1043" in text  # an order
    assert str(shop.redemption.public_id) in text or shop.redemption.reward.name in text
    assert shop.ticket.reference in text
    assert link.path.startswith(f"{shop.base}/data/")
    assert MemberDataExport.objects.filter(member=shop.member).count() == 1

    # The deletion request, confirmed by its box.
    page.goto(f"{base}/profile/")
    page.locator("summary", has_text="Delete my account").click()
    page.fill("#deletion-reason", "Moving abroad.")
    page.check("#deletion-confirm")
    page.get_by_role("button", name="Ask to delete my account").click()
    page.wait_for_load_state()
    assert "We have your request to delete your account" in page.locator("main").inner_text()
    screenshots(page, "member-portal/profile-deletion-requested")
    watch.assert_clean("profile data")
    member = Member.objects.get(pk=shop.member.pk)
    assert member.email == "ana@example.com"  # nothing erased before the team approves
    assert json.dumps(member.external_id)
