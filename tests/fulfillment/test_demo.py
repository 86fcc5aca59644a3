"""The demo data redeems: each live demo merchant's members redeem rewards over the last
months, each redemption made, placed and settled at its own time through the services,
with balances that hold in time order, once however often the demo is loaded."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command

from fulfillment.demo import EXTERNAL_ID, TARGET, WINDOW
from fulfillment.models import Redemption, RedemptionEvent, RedemptionStatus, SupplierOrder
from loyalty.audit import ledger_audit
from loyalty.models import LedgerEntry
from merchants.models import Merchant, MerchantStatus

pytestmark = [pytest.mark.django_db, pytest.mark.seeded_demo]

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


def test_seed_demo_redeems_over_time_for_each_live_merchant_once(seeded_demo):
    now = seeded_demo.finished_at

    assert "Demo redemptions:" in seeded_demo.output
    live = Merchant.objects.filter(status=MerchantStatus.LIVE)
    assert live.count() >= 2
    assert not Redemption.objects.exclude(merchant__in=live).exists()
    for merchant in live:
        # The member portal's demo member redeems one more of their own (portals.demo).
        redemptions = list(
            Redemption.objects.filter(merchant=merchant)
            .exclude(external_id__endswith="-portal-demo")
            .select_related("reward")
        )
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
