"""A member message's pages and the email itself in a real browser (Debian's Chromium):
the unsubscribe page in English and in Arabic (right to left), the page after the
button, the friendly 404, the email's HTML part, and the admin's preview of a template.
No Content-Security-Policy violation or script error on our pages, axe-core finds no
serious or critical violation, and screenshots at 390 px and 1440 px wide go to
``var/screenshots/member-messages/`` for someone to look at."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from loyalty.messages import services
from loyalty.models import MessageKind, MessageOptOut, MessageTemplate
from merchants.models import MerchantBrand
from tests.config.test_csp_browser import PASSWORD, Watch, screenshots
from tests.loyalty.factories import member_make, program_merchant
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]

NOW = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)


def message_for(merchant, locale: str, email: str):
    member = member_make(merchant, email=email, first_name="Ana", locale=locale)
    return services.message_send(
        member=member,
        kind=MessageKind.POINTS_EXPIRING,
        key="expiring:2026-12-31:7",
        data={"points": 1250, "expires_on": datetime.date(2026, 12, 31)},
        now=NOW,
    )


def test_the_member_pages_and_the_email_read_well(server_url, page):  # noqa: F811
    merchant, _ = program_merchant(name="Northwind Rewards", points_name="Beans")
    merchant.name = "Northwind Coffee Roasters"
    merchant.save(update_fields=["name"])
    MerchantBrand.objects.create(
        merchant=merchant,
        colour="#0f766e",
        sender_name="Northwind Coffee",
        shop_url="https://northwind.example/",
    )
    english = message_for(merchant, "en", "ana@example.com")
    arabic = message_for(merchant, "ar", "amal@example.com")
    watch = Watch(page)
    base = f"{server_url}/m/{merchant.slug}/messages"

    page.goto(f"{base}/{english.token}/unsubscribe")
    assert page.locator("h1").inner_text() == "Unsubscribe from these emails?"
    watch.assert_clean("unsubscribe")
    screenshots(page, "member-messages/unsubscribe")
    assert not MessageOptOut.objects.exists()  # opening the page changed nothing

    page.locator("button", has_text="Unsubscribe").click()
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    watch.assert_clean("unsubscribed")
    screenshots(page, "member-messages/unsubscribed")
    assert MessageOptOut.objects.filter(member=english.member).exists()

    page.goto(f"{base}/{arabic.token}/unsubscribe")
    assert page.locator("html").get_attribute("dir") == "rtl"
    watch.assert_clean("unsubscribe in Arabic")
    screenshots(page, "member-messages/unsubscribe-ar")

    page.goto(f"{base}/no-such-token/unsubscribe")
    assert page.locator("h1").inner_text() == "We could not find this link"
    watch.assert_clean("not found")
    screenshots(page, "member-messages/not-found")

    # The emails as a mail reader shows them (their HTML parts, inline styles and all).
    # A blank page first: content set into one of ours would keep our policy, which
    # refuses the inline styles emails are made of.
    for email, name in zip(mail.outbox, ("email-en", "email-ar"), strict=True):
        page.goto("about:blank")
        page.set_content(email.alternatives[0].content)
        screenshots(page, f"member-messages/{name}")


def test_the_admin_preview_of_a_template(server_url, page):  # noqa: F811
    merchant, _ = program_merchant(name="Northwind Rewards", points_name="Beans")
    MerchantBrand.objects.create(
        merchant=merchant,
        colour="#b45309",
        sender_name="Northwind Coffee",
        shop_url="https://n.example/",
    )
    template = MessageTemplate.objects.create(
        merchant=merchant,
        kind=MessageKind.POINTS_EXPIRING,
        locale="fr",
        subject="{{ member.first_name }}, vos {{ points_name }} vous attendent",
        body="Il vous reste {{ points }} {{ points_name }} jusqu'au {{ expiry_date }}.\n\n"
        "À très vite sur {{ shop_link }} !",
    )
    get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    page.goto(f"{server_url}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_url(f"{server_url}/admin/")

    page.goto(f"{server_url}/admin/loyalty/messagetemplate/{template.pk}/preview/")

    assert "Alex, vos Beans vous attendent" in page.content()
    page.set_viewport_size({"width": 1440, "height": 900})
    page.screenshot(path=str(screenshot_path("admin-preview-1440")), full_page=True)
    page.goto(f"{server_url}/admin/loyalty/messagetemplate/{template.pk}/change/")
    page.screenshot(path=str(screenshot_path("admin-template-1440")), full_page=True)

    member = member_make(merchant, email="ana@example.com", first_name="Ana", locale="fr")
    message_for(merchant, "en", "bo@example.com")
    services.message_send(
        member=member,
        kind=MessageKind.POINTS_EXPIRING,
        key="expiring:2026-12-31:30",
        data={"points": 90, "expires_on": datetime.date(2026, 12, 31)},
        now=NOW,
    )
    page.goto(f"{server_url}/admin/loyalty/membermessage/")
    assert page.locator("#result_list tbody tr").count() == 2
    page.screenshot(path=str(screenshot_path("admin-message-log-1440")), full_page=True)
    page.goto(f"{server_url}/admin/loyalty/member/{member.pk}/change/?tab=consents")
    assert page.get_by_text("Messages (newest first)").count() == 1
    page.screenshot(path=str(screenshot_path("admin-member-1440")), full_page=True)


def screenshot_path(name: str):
    from tests.config.test_csp_browser import SCREENSHOTS

    folder = SCREENSHOTS / "member-messages"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"
