"""The demo deliveries: each outcome shows in the inbox, and seeding again adds none."""

import io

from integrations import demo
from integrations.models import InboxDelivery, InboxStatus
from loyalty.models import NonMemberOrder, Order, Refund
from tests.integrations.helpers import connected_store


def test_demo_deliveries_show_every_outcome_once(merchant):
    shopify, _ = connected_store(merchant, "shopify")
    woo, _ = connected_store(merchant, "woocommerce")
    out = io.StringIO()
    demo.seed(out=out)
    assert "10 deliveries through the inbox of 2 stores" in out.getvalue()
    outcomes = dict(
        InboxDelivery.objects.filter(store=shopify).values_list("topic", "status").order_by("id")
    )
    assert set(InboxDelivery.objects.values_list("status", flat=True)) == {
        InboxStatus.PROCESSED,
        InboxStatus.IGNORED,
    }
    assert outcomes["products/update"] == InboxStatus.IGNORED
    assert Order.objects.filter(merchant=merchant).count() == 2
    assert Refund.objects.filter(merchant=merchant).count() == 2
    assert NonMemberOrder.objects.filter(merchant=merchant).count() == 2
    assert woo.inbox.count() == 4
    demo.seed(out=io.StringIO())
    assert InboxDelivery.objects.count() == 10
