"""The member portal in a real browser (Debian's Chromium): sign in by the store's link and
by the email link (read from the outbox), every page, the language switch to French and
to Arabic (right to left), sign out. No Content-Security-Policy violation or script
error, axe-core finds no serious or critical violation, and screenshots of every page at
390 px and 1440 px wide go to ``var/screenshots/member-portal/`` for someone to look at."""

import datetime
import re
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import timezone

from core.actors import SYSTEM
from integrations.widget.tokens import token_make
from loyalty import ledger
from loyalty.models import EarningRule, Tier
from merchants.models import MerchantBrand
from merchants.services.stores import store_create
from tests.config.test_csp_browser import Watch, screenshots
from tests.loyalty.achievements.helpers import achievement_make
from tests.loyalty.campaigns.helpers import campaign_make, segment_with
from tests.loyalty.factories import member_make, order_post, points_give, program_merchant
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]

PAGES = [
    ("", "home"),
    ("history/", "history"),
    ("earn/", "earn"),
    ("achievements/", "achievements"),
    ("refer/", "refer"),
    ("profile/", "profile"),
]


def northwind():
    merchant, program = program_merchant(
        name="Northwind Rewards", points_name="Beans", pending_days=14, tiers_enabled=True
    )
    merchant.name = "Northwind Coffee Roasters"
    merchant.save(update_fields=["name"])
    MerchantBrand.objects.create(
        merchant=merchant,
        colour="#0f766e",
        sender_name="Northwind Coffee",
        shop_url="https://northwind.example/",
    )
    Tier.objects.create(program=program, name="Silver", threshold=Decimal(0))
    Tier.objects.create(program=program, name="Gold", threshold=Decimal(500))
    achievement_make(program, name="Three orders", description="Place three orders.")
    achievement_make(
        program, name="Big spender", measure="spend", goal=Decimal(150), reward_points=250
    )
    EarningRule.objects.create(
        program=program,
        name="Write a review",
        kind="activity_bonus",
        bonus_points=50,
        activity_kind="review",
    )
    store, secret = store_create(
        merchant=merchant, name="Shop", platform="shopify", domain="northwind.example", actor=SYSTEM
    )
    member = member_make(
        merchant, "cust-ana", email="ana@example.com", first_name="Ana", locale="en"
    )
    points_give(member, 1200, reason="welcome gift")
    ledger.points_adjust(
        member=member,
        points=150,
        reason="holiday bonus",
        at=timezone.now(),
        expires_at=timezone.now() + datetime.timedelta(days=12),
        actor=SYSTEM,
    )
    order_post(merchant, member, "64.00", external_id="1043")
    order_post(merchant, member, "38.50", external_id="1051")
    # Campaigns for Ana: one for everyone, one for a segment she is in.
    campaign_make(
        program,
        name="Double Beans on coffee",
        description="All of December, on every bag of beans and every cup.",
        multiplier=Decimal(2),
        include_categories=["coffee"],
        priority=10,
        ends_at=timezone.now() + datetime.timedelta(days=24),
    )
    campaign_make(
        program,
        name="Regulars' thank-you",
        effect="order_bonus",
        bonus_points=300,
        min_order_total=Decimal(40),
        cap_period="ever",
        segments=[segment_with(merchant, member, name="Regulars")],
        priority=20,
    )
    return merchant, store, secret, member


def test_the_member_portal_in_a_browser(server_url, page):  # noqa: F811
    merchant, store, secret, member = northwind()
    watch = Watch(page)
    base = f"{server_url}/m/{merchant.slug}"

    # The store's link: signed in, and the token gone from the address bar.
    token = token_make(
        secret=secret,
        store_public_id=store.public_id,
        external_id=member.external_id,
        expires=int(time.time()) + 300,
    )
    page.goto(f"{base}/login/store?store={store.public_id}&token={token}")
    assert page.url == f"{base}/"
    assert "Welcome back, Ana" in page.locator("h1").inner_text()
    for path, name in PAGES:
        page.goto(f"{base}/{path}")
        assert page.locator("html").get_attribute("lang") == "en"
        watch.assert_clean(name)
        screenshots(page, f"member-portal/{name}")

    # The language switch, to French then Arabic (right to left).
    page.goto(f"{base}/history/")
    page.select_option("#member-language", "fr")
    page.locator("footer button[type=submit]").click()
    page.wait_for_url(f"{base}/history/")
    assert page.locator("html").get_attribute("lang") == "fr"
    screenshots(page, "member-portal/history-fr")
    page.goto(f"{base}/")
    screenshots(page, "member-portal/home-fr")
    page.select_option("#member-language", "ar")
    page.locator("footer button[type=submit]").click()
    page.wait_for_url(f"{base}/")
    assert page.locator("html").get_attribute("dir") == "rtl"
    watch.assert_clean("arabic")
    screenshots(page, "member-portal/home-ar")
    page.goto(f"{base}/profile/")
    screenshots(page, "member-portal/profile-ar")
    page.select_option("#member-language", "en")
    page.locator("footer button[type=submit]").click()

    # Sign out, then in again by email.
    page.locator("header button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/login/\?out=1$"))
    screenshots(page, "member-portal/login")
    page.fill("input[name=email]", "ana@example.com")
    page.locator("main button[type=submit]").click()
    assert page.locator("h1").inner_text() == "Check your email"
    screenshots(page, "member-portal/login-sent")
    (email,) = mail.outbox
    link = urlsplit(re.search(r"https?://\S+", email.body).group(0))
    page.goto(f"{server_url}{link.path}?{link.query}")
    screenshots(page, "member-portal/login-continue")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/")
    assert "Welcome back, Ana" in page.locator("h1").inner_text()

    # The same link again: refused, with the email sign-in offered.
    page.goto(f"{server_url}{link.path}")
    assert page.locator("h1").inner_text() == "This link does not work"
    screenshots(page, "member-portal/link-refused")
    watch.assert_clean("sign-in pages")

    # The email as a mail reader shows it.
    page.goto("about:blank")
    page.set_content(email.alternatives[0].content)
    screenshots(page, "member-portal/email")
