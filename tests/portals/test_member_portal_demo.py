"""The demo's member portal: each live merchant's demo member (the one ``make run``
prints a sign-in link for) has history, a tier under way, a reward in My rewards and
another they can get now, once however often the demo is loaded."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from catalog.selectors import RewardFilters, catalog_for_member
from fulfillment.models import Redemption
from loyalty.models import LedgerEntry, Member
from merchants.models import Merchant, MerchantStatus
from portals.demo import PORTAL_MEMBER, member_portal_links

pytestmark = [pytest.mark.django_db, pytest.mark.seeded_demo]


def test_each_demo_member_has_a_reward_and_can_get_another_now(seeded_demo):
    live = list(Merchant.objects.filter(status=MerchantStatus.LIVE))
    assert live
    for merchant in live:
        member = Member.objects.get(
            merchant=merchant, external_id=PORTAL_MEMBER.format(slug=merchant.slug)
        )
        redemption = Redemption.objects.get(
            merchant=merchant, member=member, external_id=f"{member.external_id}-portal-demo"
        )
        assert redemption.status == "delivered"
        assert LedgerEntry.objects.filter(member=member, kind="earn").exists()
        within = catalog_for_member(
            merchant=merchant,
            member=member,
            filters=RewardFilters(max_points=member.points_balance),
        )
        assert within.exists(), merchant.slug


def test_the_printed_link_signs_in_to_a_home_with_a_reward_within_reach(seeded_demo):
    assert "Member portal (/m/<merchant>/)" in seeded_demo.output
    out = StringIO()  # links made now: a store link lives ten minutes
    member_portal_links(out=out, base_url="http://testserver")
    links = re.findall(r"http://testserver(/m/[\w-]+/login/store\?\S+)", out.getvalue())
    assert links
    for link in links:
        client = Client()
        home = client.get(client.get(link)["Location"]).content.decode()
        assert "You can get these now" in home
        assert "My rewards" in home


def test_loading_the_demo_again_redeems_nothing_more(seeded_demo):
    before = Redemption.objects.filter(external_id__endswith="-portal-demo").count()
    call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    assert Redemption.objects.filter(external_id__endswith="-portal-demo").count() == before
