"""The demo data redeems: each live demo merchant's members redeem rewards over the last
months, each redemption made, placed and settled at its own time through the services,
with balances that hold in time order, once however often the demo is loaded."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from catalog.models import MerchantCatalogItem
from catalog.services import unit_price
from core.actors import Actor
from fulfillment import demo
from fulfillment.demo import EXTERNAL_ID, TARGET, WINDOW
from fulfillment.models import Redemption, RedemptionEvent, RedemptionStatus, SupplierOrder
from loyalty.audit import ledger_audit
from loyalty.models import LedgerEntry
from merchants.models import Merchant, MerchantStatus
from merchants.services import merchant_transition
from tests.catalog.factories import merchant_with_program, select
from tests.fulfillment.factories import sandbox_offer
from tests.loyalty.factories import member_make

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
GIVEN_BACK = (RedemptionStatus.REFUNDED, RedemptionStatus.CANCELLED)


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO())
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "redemptions": Redemption.objects.count(),
        "events": RedemptionEvent.objects.count(),
        "supplier orders": SupplierOrder.objects.count(),
        "ledger entries": LedgerEntry.objects.count(),
    }


def assert_ledger_reads_in_time_order(merchant: Merchant) -> None:
    """Every member's entries, in time order, never take the balance below zero, and each
    says the balance the entries before it in time leave."""
    balances: dict[int, int] = {}
    entries = LedgerEntry.objects.filter(merchant=merchant).order_by(
        "member_id", "created_at", "id"
    )
    for entry in entries.values("member_id", "points", "balance_after"):
        balance = balances.get(entry["member_id"], 0) + entry["points"]
        assert balance >= 0, entry
        assert entry["balance_after"] == balance, entry
        balances[entry["member_id"]] = balance


def test_seed_demo_redeems_over_time_for_each_live_merchant_once(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    out = seed_demo()
    now = timezone.now()

    assert "Demo redemptions:" in out
    live = Merchant.objects.filter(status=MerchantStatus.LIVE)
    assert live.count() >= 2
    assert not Redemption.objects.exclude(merchant__in=live).exists()
    for merchant in live:
        redemptions = list(Redemption.objects.filter(merchant=merchant).select_related("reward"))
        assert TARGET[0] <= len(redemptions) <= TARGET[1], merchant
        assert all(r.external_id.startswith(f"{merchant.slug}-demo-rdm-") for r in redemptions)
        assert EXTERNAL_ID.format(slug=merchant.slug, number=1) in {
            r.external_id for r in redemptions
        }
        assert all(now - WINDOW <= r.created_at < now for r in redemptions)
        assert len({r.reward_id for r in redemptions}) >= 3
        assert len({r.reward.type for r in redemptions}) >= 2

        delivered = [r for r in redemptions if r.status == RedemptionStatus.DELIVERED]
        days = {r.created_at.date() for r in delivered if r.created_at.date() < now.date()}
        assert len(days) >= 3, days
        for redemption in delivered:
            assert redemption.created_at < redemption.delivered_at < now
            events = {
                event.to_value: event.at
                for event in redemption.events.filter(field="status").order_by("id")
            }
            assert events[RedemptionStatus.PENDING] == redemption.created_at
            assert events[RedemptionStatus.DELIVERED] == redemption.delivered_at
            assert events[RedemptionStatus.DELIVERED] > events[RedemptionStatus.PENDING]
            order = redemption.supplier_orders.get(status="delivered")
            assert order.completed_at == redemption.delivered_at
            assert order.submitted_at > redemption.created_at
        # Minutes for the aggregator, hours to days for the charity done by hand.
        waits = [r.delivered_at - r.created_at for r in delivered]
        assert min(waits) < datetime.timedelta(hours=1) < max(waits)
        assert max(waits) <= datetime.timedelta(days=2, minutes=20)

        given_back = [r for r in redemptions if r.status in GIVEN_BACK]
        assert given_back, merchant
        for redemption in given_back:
            refund = redemption.refund_entry
            assert refund.points == redemption.points_total == -redemption.spend_entry.points
            assert redemption.created_at < refund.created_at == redemption.closed_at < now
        settled = (RedemptionStatus.DELIVERED, *GIVEN_BACK)
        assert all(r.status in settled for r in redemptions)

        for redemption in redemptions:
            assert redemption.spend_entry.created_at == redemption.created_at
        assert ledger_audit(merchant_id=merchant.pk).ok
        assert_ledger_reads_in_time_order(merchant)

    before = counts()
    out = seed_demo()
    assert "Demo redemptions:" not in out
    assert counts() == before


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
