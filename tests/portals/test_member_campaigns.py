"""The campaigns on the member portal: "For you right now" on the home page (three at
most) and all of them on Ways to earn, each in a plain sentence with its conditions and
its last day in the merchant's time zone; never one the member is held out of."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from loyalty.models import Campaign
from loyalty.program_config import campaign_terms
from portals.views.member_words import campaign_words
from tests.loyalty.campaigns.helpers import campaign_make, segment_with
from tests.loyalty.factories import member_make
from tests.portals.test_member_portal import shop, signed_in  # noqa: F401 (a fixture)

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
ENDS = datetime.datetime(2026, 12, 31, 23, 0, tzinfo=datetime.UTC)  # midnight in Amsterdam


def words(**terms):
    campaign = Campaign(name="C", ends_at=terms.pop("ends_at", ENDS), **terms)
    with translation.override("en"):
        return campaign_words(campaign, points_name="Beans", currency="EUR", tz=AMSTERDAM)


def test_a_multiplier_reads_as_times_the_points():
    said = words(effect="multiplier", multiplier=Decimal("2.000"))

    assert said.what == "2× the Beans on what you buy"  # noqa: RUF001
    assert said.notes == ()
    # Counted up to midnight in Amsterdam: the 31st is its last day.
    assert said.until == "Until Dec 31, 2026"


def test_a_multiplier_on_categories_names_them_and_on_skus_says_selected_products():
    assert (
        words(
            effect="multiplier", multiplier=Decimal("1.5"), include_categories=["tea", "cups"]
        ).what
        == "1.5× the Beans on tea and cups"  # noqa: RUF001
    )
    assert (
        words(effect="multiplier", multiplier=Decimal(3), include_skus=["SKU-1"]).what
        == "3× the Beans on selected products"  # noqa: RUF001
    )


def test_points_per_unit_with_a_minimum_and_a_daily_cap():
    said = words(
        effect="per_unit",
        points_per_unit=Decimal("5.0000"),
        include_categories=["coffee"],
        min_order_total=Decimal("20.0000"),
        cap_period="day",
        cap_count=1,
    )

    assert said.what == "5 extra Beans for every €1.00 spent on coffee"
    assert said.notes == ("On orders of €20.00 or more", "Once a day")


def test_an_order_bonus_says_its_minimum_in_the_sentence():
    said = words(
        effect="order_bonus",
        bonus_points=1500,
        min_order_total=Decimal(30),
        cap_period="ever",
        cap_count=1,
    )

    assert said.what == "1,500 bonus Beans on an order of €30.00 or more"
    assert said.notes == ("Once per member",)


def test_an_activity_bonus_names_the_activity_and_a_monthly_cap_counts():
    said = words(
        effect="activity_bonus",
        bonus_points=200,
        activity_kind="review",
        cap_period="month",
        cap_count=3,
    )

    assert said.what == "200 bonus Beans for a review"
    assert said.notes == ("Up to 3 times a month",)
    custom = words(effect="activity_bonus", bonus_points=20, activity_kind="photo_upload")
    assert custom.what == "20 bonus Beans for photo upload"


def test_unlocking_rewards_and_a_coupon_read_plainly_without_caps():
    assert words(effect="unlock_reward", cap_period="day").what == (
        "Rewards open to you alone: find them among the rewards"
    )
    coupon = words(effect="coupon", cap_period="ever", cap_count=2)
    assert coupon.what == "A coupon code with your next order"
    assert coupon.notes == ()


def test_words_follow_the_active_language():
    campaign = Campaign(name="C", effect="multiplier", multiplier=Decimal(2), ends_at=ENDS)
    with translation.override("fr"):
        said = campaign_words(campaign, points_name="Grains", currency="EUR", tz=AMSTERDAM)

    assert "31 déc. 2026" in said.until


# -- the pages ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_home_shows_three_campaigns_for_the_member_and_earn_shows_them_all(shop):  # noqa: F811
    merchant, _store, _secret, _member = shop
    program = merchant.programs.get(is_active=True)
    for n in range(4):
        campaign_make(program, name=f"Offer {n}", priority=n, description=f"About offer {n}")
    client = signed_in(shop)

    home = client.get(f"/m/{merchant.slug}/").content.decode()
    earn = client.get(f"/m/{merchant.slug}/earn/").content.decode()

    assert "For you right now" in home
    assert [f"Offer {n}" in home for n in range(4)] == [True, True, True, False]
    assert all(f"Offer {n}" in earn for n in range(4))
    assert "About offer 3" in earn
    assert "2× the Beans on what you buy" in earn  # noqa: RUF001


@pytest.mark.django_db
def test_pages_leave_out_campaigns_held_out_untargeted_or_of_another_merchant(shop):  # noqa: F811
    merchant, _store, _secret, member = shop
    program = merchant.programs.get(is_active=True)
    someone = member_make(merchant)
    campaign_make(program, name="For someone else", segments=[segment_with(merchant, someone)])
    held = None
    for n in range(40):
        candidate = campaign_make(program, name=f"Test {n}", holdout_percent=Decimal(50))
        if campaign_terms(candidate).in_holdout(str(member.pk)):
            held = candidate
            break
        candidate.delete()
    assert held is not None
    client = signed_in(shop)

    for path in ("", "earn/"):
        page = client.get(f"/m/{merchant.slug}/{path}").content.decode()
        assert held.name not in page
        assert "For someone else" not in page
        assert "For you right now" not in page


@pytest.mark.django_db
def test_a_campaign_ending_now_is_gone_from_the_page(shop, time_machine):  # noqa: F811
    merchant, _store, _secret, _member = shop
    program = merchant.programs.get(is_active=True)
    campaign_make(program, name="Flash", ends_at=timezone.now() + datetime.timedelta(hours=1))
    client = signed_in(shop)
    assert "Flash" in client.get(f"/m/{merchant.slug}/earn/").content.decode()

    time_machine.move_to(timezone.now() + datetime.timedelta(hours=2))

    assert "Flash" not in client.get(f"/m/{merchant.slug}/earn/").content.decode()


def test_a_rules_words_name_its_categories_as_a_campaigns_do():
    from loyalty.models import EarningRule
    from portals.views.member_words import rule_words

    with translation.override("en"):
        multiplier = rule_words(
            EarningRule(
                name="Double on camping",
                kind="purchase_multiplier",
                multiplier=Decimal("2.000"),
                include_categories=["camping"],
            ),
            points_name="Stars",
            currency="EUR",
        )
        rate = rule_words(
            EarningRule(name="Tea", kind="purchase_rate", points_per_unit=Decimal("0.5000")),
            points_name="Stars",
            currency="EUR",
        )
    assert multiplier["what"] == "2× the Stars on camping"  # noqa: RUF001
    assert rate["what"] == "0.5 extra Stars for every €1.00 spent"
