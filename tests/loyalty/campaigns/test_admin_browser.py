"""The campaign pages in a real browser (Debian's Chromium): a marketer opens the campaign
list, a campaign's page, its report with a control group, and the order simulator with a
result; no policy violation or script error, axe-core finds nothing serious, no page runs
wider than the screen, and screenshots at 390 px and 1440 px go to
``var/screenshots/campaigns/``."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from core.staff_groups import staff_groups_sync
from loyalty.campaigns.services import coupon_codes_add
from loyalty.models import CampaignEvent, Tier
from loyalty.rules import HOLDOUT_BUCKETS, holdout_bucket
from tests.config.test_csp_browser import PASSWORD, Watch, screenshots, sign_in
from tests.loyalty.campaigns.helpers import campaign_make, segment_with
from tests.loyalty.factories import member_make, order_post, program_merchant
from tests.loyalty.segments.test_admin_browser import no_sideways_scroll
from tests.merchants.factories import StaffFactory
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")


def fjord_gear():
    """An Oslo shop with 40 members, a running x2 campaign keeping 30% as a control group
    and a few orders from both groups, beside campaigns in every other status."""
    merchant, program = program_merchant(name="Fjord Rewards", points_name="Stars")
    merchant.name = "Fjord Gear"
    merchant.timezone = OSLO
    merchant.save(update_fields=["name", "timezone"])
    program.tiers_enabled = True
    program.save(update_fields=["tiers_enabled"])
    Tier.objects.create(program=program, name="Gold", threshold=500, multiplier=Decimal("1.5"))
    members = [
        member_make(merchant, f"fjord-customer-{i:03d}", email=f"c{i}@fjord-gear.example")
        for i in range(40)
    ]
    hikers = segment_with(merchant, *members[:25], name="Hikers")
    now = timezone.now()
    campaign = campaign_make(
        program,
        name="Autumn double points",
        description="Double points on every order while the leaves fall.",
        starts_at=now - datetime.timedelta(days=3),
        ends_at=now + datetime.timedelta(days=28),
        holdout_percent=Decimal(30),
        points_budget=20_000,
        cap_period="day",
        cap_count=3,
    )
    cut = HOLDOUT_BUCKETS * 30 // 100
    for i, member in enumerate(members):
        control = holdout_bucket(campaign.pk, str(member.pk)) < cut
        for n in range(i % 3 if control else 1 + i % 3):
            order_post(merchant, member, f"{40 + 15 * n + i:.2f}")
    campaign_make(
        program,
        name="Hikers' coupon",
        effect="coupon",
        status="draft",
        segments=[hikers],
        min_order_total=Decimal(50),
    )
    coupon_codes_add(
        campaign=program.campaigns.get(name="Hikers' coupon"),
        codes=[f"HIKE-{n:04d}" for n in range(50)],
    )
    campaign_make(
        program,
        name="Winter bonus",
        effect="order_bonus",
        status="scheduled",
        bonus_points=150,
        min_order_total=Decimal("499.00"),
        starts_at=now + datetime.timedelta(days=30),
        ends_at=now + datetime.timedelta(days=60),
    )
    campaign_make(
        program,
        name="Camping +2 per dollar",
        effect="per_unit",
        status="paused",
        points_per_unit=Decimal(2),
        include_categories=["camping"],
        segments=[hikers],
    )
    campaign_make(
        program,
        name="Summer sale",
        status="ended",
        starts_at=now - datetime.timedelta(days=90),
        ends_at=now - datetime.timedelta(days=60),
        multiplier=Decimal("1.5"),
    )
    return merchant, program, campaign, hikers


def test_a_marketer_reads_campaigns_their_report_and_the_simulator(server_url, page):  # noqa: F811
    _, program, campaign, _ = fjord_gear()
    staff_groups_sync()
    marketer = StaffFactory(username="marketer", password=PASSWORD)
    marketer.groups.add(Group.objects.get(name="Marketing"))
    watch = Watch(page)
    sign_in(page, server_url, "marketer")

    page.goto(f"{server_url}/admin/loyalty/campaign/")
    results = page.locator("#result_list")
    for text in ("Autumn double points", "Running", "x2 base points", "control 30%", "Paused"):
        assert results.get_by_text(text).first.is_visible(), text
    watch.assert_clean("campaign list")
    no_sideways_scroll(page, "campaign list")
    screenshots(page, "campaigns/list")

    page.goto(f"{server_url}/admin/loyalty/campaign/{campaign.pk}/change/")
    for label in ("Pause", "End", "Report"):
        assert page.get_by_role("link", name=label, exact=True).is_visible(), label
    assert page.locator("#id_name").input_value() == "Autumn double points"
    watch.assert_clean("campaign page")
    no_sideways_scroll(page, "campaign page")
    screenshots(page, "campaigns/change")

    page.get_by_role("link", name="Report", exact=True).click()
    page.wait_for_url(f"**/campaign/{campaign.pk}/report/")
    assert page.get_by_text("Members targeted").is_visible()
    assert page.get_by_role("rowheader", name="Orders per member").is_visible()
    assert page.get_by_role("columnheader", name="95% confidence interval").is_visible()
    assert page.get_by_role("link", name="Download the report (CSV)").is_visible()
    watch.assert_clean("campaign report")
    no_sideways_scroll(page, "campaign report")
    screenshots(page, "campaigns/report")

    page.goto(f"{server_url}/admin/loyalty/program/{program.pk}/change/")
    page.get_by_role("link", name="Simulate an order").click()
    page.wait_for_url(f"**/program/{program.pk}/simulate/")
    page.fill("#id_member", "someone-new")
    page.select_option("#id_tier", "Gold")
    page.get_by_label("Hikers").check()
    page.fill("#id_total", "180.00")
    page.fill("#id_lines", "TENT-2P, camping, 1, 120\nMUG, kitchen, 2, 30")
    page.click("input[type=submit][value=Simulate]")
    result = page.locator(".simulation-points")
    result.wait_for()
    assert "a hypothetical new member in tier Gold" in result.inner_text()
    assert page.get_by_text("What gives points").is_visible()
    watch.assert_clean("simulator")
    no_sideways_scroll(page, "simulator")
    screenshots(page, "campaigns/simulator")

    # Back on the campaign, the marketer pauses it with a reason.
    page.goto(f"{server_url}/admin/loyalty/campaign/{campaign.pk}/change/")
    page.get_by_role("link", name="Pause", exact=True).click()
    page.wait_for_url(f"**/campaign/{campaign.pk}/move/paused/")
    page.fill("#id_reason", "The autumn stock ran out early")
    watch.assert_clean("move page")
    no_sideways_scroll(page, "move page")
    screenshots(page, "campaigns/move")
    page.click("input[type=submit][value=Pause]")
    page.wait_for_url(f"**/campaign/{campaign.pk}/change/")
    page.get_by_text("Autumn double points: Paused.").first.wait_for()
    assert page.get_by_role("link", name="Resume").is_visible()
    event = CampaignEvent.objects.filter(campaign=campaign).latest("id")
    assert (event.to_status, event.reason, event.actor) == (
        "paused",
        "The autumn stock ran out early",
        marketer,
    )
