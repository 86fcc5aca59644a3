"""How the demo picks its redemptions, on members built for the test: a member redeems
after their last entry with the points they had then, only at live merchants, once
however often the demo is loaded."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.utils import timezone

from catalog.models import MerchantCatalogItem
from catalog.services import unit_price
from core.actors import Actor
from fulfillment import demo
from fulfillment.models import Redemption, RedemptionStatus
from loyalty.audit import ledger_audit
from merchants.models import MerchantStatus
from merchants.services.lifecycle import merchant_transition
from tests.catalog.factories import merchant_with_program, select
from tests.fulfillment.factories import sandbox_offer
from tests.fulfillment.test_demo import assert_ledger_reads_in_time_order, counts
from tests.loyalty.factories import member_make

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


def test_members_redeem_after_their_last_entry_with_the_points_they_had_then():
    merchant, program = merchant_with_program()
    offer = sandbox_offer(merchant)
    item = MerchantCatalogItem.objects.get(merchant=merchant, reward=offer.reward)
    price = unit_price(item=item, program=program, value=Decimal("25"))  # its one value
    credited = timezone.now() - datetime.timedelta(days=60)
    with time_machine.travel(credited, tick=False):
        rich = member_make(merchant, "rich", points=3 * price + 7, email="rich@example.com")
        poor = member_make(merchant, "poor", points=price - 1, email="poor@example.com")
    # Points credited just now: nothing before them, and too little time after them.
    recent = member_make(merchant, "recent", points=10 * price, email="recent@example.com")
    # Another live merchant with its own program and member; a suspended one.
    other, _ = merchant_with_program()
    select(other, offer.reward, price_step=1)
    with time_machine.travel(credited, tick=False):
        member_make(other, "theirs", points=3 * price, email="theirs@example.com")
    suspended, _ = merchant_with_program()
    merchant_transition(
        merchant=suspended, to_status=MerchantStatus.SUSPENDED, reason="test", actor=SYSTEM
    )
    with time_machine.travel(credited, tick=False):
        member_make(suspended, "waiting", points=3 * price, email="waiting@example.com")

    out = StringIO()
    demo.seed(out=out)

    mine = list(Redemption.objects.filter(merchant=merchant).order_by("created_at"))
    assert mine
    assert {r.member_id for r in mine} == {rich.pk}
    assert all(credited < r.created_at < timezone.now() - demo.SETTLE_ROOM for r in mine)
    assert all(r.status == RedemptionStatus.DELIVERED for r in mine)
    rich.refresh_from_db()
    assert rich.points_balance == 3 * price + 7 - sum(r.points_total for r in mine) >= 0
    for member in (poor, recent):
        member.refresh_from_db()
        assert not member.redemptions.exists()
    theirs = Redemption.objects.filter(merchant=other)
    assert theirs.exists()
    assert all(r.member.merchant_id == other.pk for r in theirs)
    assert not Redemption.objects.filter(merchant=suspended).exists()
    assert f"Demo redemptions: {len(mine) + theirs.count()} " in out.getvalue()
    assert ledger_audit(merchant_id=merchant.pk).ok
    assert_ledger_reads_in_time_order(merchant)

    before = counts()
    out = StringIO()
    demo.seed(out=out)
    assert counts() == before
    assert out.getvalue() == ""
