"""The member portal in a real browser (Debian's Chromium): sign in by the store's link and
by the email link (read from the outbox), every page, the language switch to French and
to Arabic (right to left), sign out. No Content-Security-Policy violation or script
error, axe-core finds no serious or critical violation, and screenshots of every page at
390 px and 1440 px wide go to ``var/screenshots/member-portal/`` for someone to look at."""

import datetime
import json
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import timezone

from catalog.models import Reward, SupplierOffer
from core.actors import SYSTEM, Actor
from customercare import services as care
from customercare.models import FAQEntry, ProgramTerms, Ticket, TicketCategory, TicketChannel
from fulfillment.models import Redemption
from integrations.widget.tokens import token_make
from loyalty import ledger
from loyalty.models import EarningRule, Member, Tier
from merchants.models import Merchant, MerchantBrand, Store
from merchants.services.stores import store_create
from tests.catalog.factories import (
    BrandFactory,
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    select,
)
from tests.config.test_csp_browser import Watch, screenshots
from tests.customercare.factories import agent_make, ticket_open
from tests.fulfillment.factories import redemption_delivered
from tests.loyalty.achievements.helpers import achievement_make
from tests.loyalty.campaigns.helpers import campaign_make, segment_with
from tests.loyalty.factories import member_make, order_post, points_give, program_merchant
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]

# Each page's path under /m/<slug>/, filled in from the shop's rows (``Northwind.ids``).
PAGES = [
    ("", "home"),
    ("history/", "history"),
    ("earn/", "earn"),
    ("rewards/", "rewards"),
    ("rewards/{reward}/", "reward"),
    ("rewards/{kettle}/", "reward-short"),
    ("my-rewards/", "my-rewards"),
    ("my-rewards/{redemption}/", "my-reward"),
    ("achievements/", "achievements"),
    ("refer/", "refer"),
    ("help/", "help"),
    ("help/new/", "help-new"),
    ("help/tickets/{ticket}/", "help-ticket"),
    ("help/terms/", "help-terms"),
    ("profile/", "profile"),
]


@dataclass(frozen=True)
class Northwind:
    merchant: Merchant
    store: Store
    secret: str
    member: Member
    reward: Reward  # 5, 10 or 25 USD, from the sandbox supplier; Ana can afford 5 and 10
    offer: SupplierOffer
    kettle: Reward  # 60 USD, out of Ana's reach
    redemption: Redemption  # 25 USD of ``reward``, delivered
    ticket: Ticket  # open, with an agent's public reply

    @property
    def base(self) -> str:
        return f"/m/{self.merchant.slug}"

    @property
    def ids(self) -> dict[str, object]:
        return {
            "reward": self.reward.pk,
            "kettle": self.kettle.pk,
            "redemption": self.redemption.public_id,
            "ticket": self.ticket.reference,
        }


def northwind() -> Northwind:
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
    points_give(member, 3700, reason="welcome gift")
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
    # Rewards: a gift card from the sandbox supplier (2,500 Beans of the welcome gift go
    # on 25 USD of it, delivered, leaving 1,350 to spend: 5 and 10 USD within reach), and
    # one out of reach.
    sandbox = SupplierFactory(slug="sbx", adapter="sandbox", adapter_config=json.dumps({"seed": 3}))
    gift_card = RewardFactory(
        name="Aurora Books gift card",
        brand=BrandFactory(name="Aurora Books", description="Books, maps and good paper."),
        description="Spend it on any book, in the shops or online.",
        denominations=["5", "10", "25"],
    )
    offer = OfferFactory(reward=gift_card, supplier=sandbox)
    kettle = RewardFactory(
        name="Copper pour-over kettle",
        brand=BrandFactory(name="Northwind Coffee", description="Roasted in Portland."),
        type="voucher",
        denominations=["60"],
    )
    OfferFactory(reward=kettle, supplier=sandbox)
    select(merchant, gift_card, kettle, price_step=1)
    redemption = redemption_delivered(merchant, member, offer)
    # Help: a request answered by an agent, a question in the FAQ, the program terms.
    ticket = ticket_open(
        member,
        category=TicketCategory.MISSING_POINTS,
        subject="Beans missing for order 1051",
        body="I bought two bags on Saturday and the Beans are not in my history.",
        order_external_id="1051",
        channel=TicketChannel.PORTAL,
        actor=Actor.member(),
    )
    care.ticket_reply(
        ticket=ticket,
        body="Hello Ana, the Beans for order 1051 are pending: they arrive 14 days after "
        "the order, once the return window has closed.",
        internal=False,
        actor=Actor.staff(agent_make()),
    )
    FAQEntry.objects.create(
        merchant=merchant,
        question="When do my Beans arrive?",
        answer="14 days after your order, once it can no longer be returned.",
        position=1,
    )
    ProgramTerms.objects.create(
        merchant=merchant,
        version=1,
        effective_on=timezone.localdate() - datetime.timedelta(days=30),
        body="Beans are earned on purchases and expire after 12 months without activity.",
        is_published=True,
    )
    # The delivery and the reply emailed Ana; the sign-in below reads the next email.
    mail.outbox.clear()
    return Northwind(merchant, store, secret, member, gift_card, offer, kettle, redemption, ticket)


def sign_in_by_the_store(page, server_url: str, shop: Northwind) -> None:  # noqa: F811
    """The store's link: signed in, and the token gone from the address bar."""
    token = token_make(
        secret=shop.secret,
        store_public_id=shop.store.public_id,
        external_id=shop.member.external_id,
        expires=int(time.time()) + 300,
    )
    page.goto(f"{server_url}{shop.base}/login/store?store={shop.store.public_id}&token={token}")
    assert page.url == f"{server_url}{shop.base}/"


def test_the_member_portal_in_a_browser(server_url, page):  # noqa: F811
    shop = northwind()
    watch = Watch(page)
    base = f"{server_url}{shop.base}"
    sign_in_by_the_store(page, server_url, shop)
    assert "Welcome back, Ana" in page.locator("h1").inner_text()
    for path, name in PAGES:
        response = page.goto(f"{base}/{path.format(**shop.ids)}")
        assert response.status == 200, name
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
    for path, name in (
        ("rewards/", "rewards"),
        ("rewards/{reward}/", "reward"),
        ("my-rewards/{redemption}/", "my-reward"),
        ("help/tickets/{ticket}/", "help-ticket"),
    ):
        page.goto(f"{base}/{path.format(**shop.ids)}")
        screenshots(page, f"member-portal/{name}-ar")
    watch.assert_clean("arabic rewards and help")
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


def test_a_member_redeems_a_reward_through_the_form(server_url, page):  # noqa: F811
    shop = northwind()
    watch = Watch(page)
    base = f"{server_url}{shop.base}"
    sign_in_by_the_store(page, server_url, shop)

    page.goto(f"{base}/rewards/")
    page.get_by_role("link", name=re.compile("Aurora Books gift card")).click()
    page.wait_for_url(f"{base}/rewards/{shop.reward.pk}/")
    # 25 USD is out of reach now; the dearest value within reach is chosen.
    assert page.get_by_role("radio", name=re.compile(r"\$25\.00")).is_disabled()
    assert page.get_by_role("radio", name=re.compile(r"\$10\.00")).is_checked()
    page.get_by_role("radio", name=re.compile(r"\$5\.00")).check()
    # A bad email is told next to its field; nothing is spent.
    page.get_by_label("Email address").fill("ana@")
    page.get_by_role("button", name="Continue").click()
    assert "like name@example.com" in page.locator("main form").inner_text()
    screenshots(page, "member-portal/reward-error")
    page.locator(".reward-terms summary").click()
    assert "Terms apply." in page.locator(".reward-terms").inner_text()
    screenshots(page, "member-portal/reward-terms")
    page.get_by_label("Email address").fill("ana.lima@example.com")
    page.get_by_role("button", name="Continue").click()
    assert page.locator("h1").inner_text() == "Check and confirm"
    assert "ana.lima@example.com" in page.locator("main").inner_text()
    screenshots(page, "member-portal/reward-confirm")
    page.get_by_role("button", name=re.compile("^Confirm: spend 500 Beans")).click()

    redemption = Redemption.objects.exclude(pk=shop.redemption.pk).get(member=shop.member)
    page.wait_for_url(f"{base}/my-rewards/{redemption.public_id}/?new=1")
    assert page.locator("h1").inner_text() == "Aurora Books gift card"
    assert "Done! Your reward is ready." in page.locator("main").inner_text()
    assert "$5.00" in page.locator("main").inner_text()
    assert redemption.recipient["email"] == "ana.lima@example.com"
    assert redemption.points_total == 500
    screenshots(page, "member-portal/my-reward-new")
    page.goto(f"{base}/my-rewards/")
    assert page.locator(".my-rewards li").count() == 2
    watch.assert_clean("redeeming")


def test_a_member_asks_for_help_and_sees_the_request_listed(server_url, page):  # noqa: F811
    shop = northwind()
    watch = Watch(page)
    base = f"{server_url}{shop.base}"
    sign_in_by_the_store(page, server_url, shop)

    page.goto(f"{base}/help/")
    page.get_by_role("link", name="Ask for help").click()
    page.wait_for_url(f"{base}/help/new/")
    page.get_by_role("button", name="Send my request").click()
    assert "Choose what your question is about." in page.locator("main form").inner_text()
    screenshots(page, "member-portal/help-new-errors")
    page.get_by_label("A question about a reward").check()
    page.get_by_label("Which reward?").select_option(str(shop.redemption.public_id))
    screenshots(page, "member-portal/help-new-reward")
    page.get_by_label("Subject").fill("Can I use my gift card online?")
    page.get_by_label("Message").fill("The Aurora Books card: does it work in their web shop?")
    page.get_by_role("button", name="Send my request").click()

    ticket = Ticket.objects.exclude(pk=shop.ticket.pk).get(member=shop.member)
    page.wait_for_url(re.compile(rf".*/help/tickets/{ticket.reference}/.*"))
    assert page.locator("h1").inner_text() == "Can I use my gift card online?"
    assert "we have your request" in page.locator("main").inner_text()
    assert ticket.redemption_id == shop.redemption.pk
    screenshots(page, "member-portal/help-ticket-sent")

    page.get_by_role("link", name="Help", exact=True).first.click()
    page.wait_for_url(f"{base}/help/")
    subjects = page.locator(".help-ticket-subject").all_inner_texts()
    assert subjects == ["Can I use my gift card online?", "Beans missing for order 1051"]
    watch.assert_clean("asking for help")


def test_a_member_answers_the_team_and_rates_the_answer(server_url, page):  # noqa: F811
    shop = northwind()
    watch = Watch(page)
    ticket_page = f"{server_url}{shop.base}/help/tickets/{shop.ticket.reference}/"
    sign_in_by_the_store(page, server_url, shop)

    page.goto(ticket_page)
    assert "the Beans for order 1051 are pending" in page.locator("main").inner_text()
    page.get_by_label("Your message").fill("Thank you! I will look again after the 14 days.")
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_load_state()
    assert "I will look again after the 14 days." in page.locator("main").inner_text()
    assert shop.ticket.messages.filter(author_type="member").count() == 2  # first, answer

    # The team resolves it: the member rates the answer once.
    care.ticket_reply(
        ticket=Ticket.objects.get(pk=shop.ticket.pk),
        body="You are welcome, Ana. Enjoy your coffee.",
        internal=False,
        then="resolved",
        actor=Actor.staff(agent_make()),
    )
    page.goto(ticket_page)
    screenshots(page, "member-portal/help-ticket-rate")
    page.locator("label", has_text="5").first.click()
    page.get_by_role("button", name="Send my rating").click()
    page.wait_for_load_state()
    assert "You rated our answer 5 out of 5." in page.locator("main").inner_text()
    screenshots(page, "member-portal/help-ticket-rated")
    watch.assert_clean("answering the team")
