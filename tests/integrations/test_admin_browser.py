"""The inbox and a store's connection page in a real browser, as an Operations agent sees
them; screenshots at 390 px and 1440 px go to ``var/screenshots/integrations/``."""

import pytest
from django.contrib.auth.models import Group

from core.staff_groups import staff_groups_sync
from integrations.models import InboxDelivery
from tests.config.test_csp_browser import PASSWORD, Watch, screenshots, sign_in
from tests.integrations.helpers import connected_store, sample, shopify_post
from tests.loyalty.factories import program_merchant
from tests.loyalty.segments.test_admin_browser import no_sideways_scroll
from tests.merchants.factories import StaffFactory
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


def test_ops_read_the_inbox_and_a_stores_connection_page(server_url, page):  # noqa: F811
    merchant, _ = program_merchant(name="Fjord Rewards")
    merchant.name = "Fjord Gear"
    merchant.save(update_fields=["name"])
    store, secret = connected_store(merchant, "shopify")
    paid = sample("shopify/orders_create.json")
    paid["financial_status"] = "paid"
    for topic, body in (
        ("orders/create", sample("shopify/orders_create.json")),
        ("orders/paid", paid),
        ("refunds/create", sample("shopify/refunds_create.json")),
        ("customers/create", sample("shopify/customers_create.json")),
        ("products/update", {"id": 1}),
    ):
        # Processed on commit, by the eager worker of the tests.
        assert shopify_post(store, secret, topic, body).status_code == 200
    staff_groups_sync()
    ops = StaffFactory(username="ops", password=PASSWORD)
    ops.groups.add(Group.objects.get(name="Operations"))
    watch = Watch(page)
    sign_in(page, server_url, "ops")

    page.goto(f"{server_url}/admin/integrations/inboxdelivery/")
    results = page.locator("#result_list")
    for text in ("Earned 394 points.", "Payment voided: earns once paid.", "Processed", "Ignored"):
        assert results.get_by_text(text).first.is_visible(), text
    watch.assert_clean("inbox")
    no_sideways_scroll(page, "inbox")
    screenshots(page, "integrations/inbox")

    refund = InboxDelivery.objects.get(topic="refunds/create")
    page.goto(f"{server_url}/admin/integrations/inboxdelivery/{refund.pk}/change/")
    assert page.get_by_text("took back 90 points").is_visible()
    watch.assert_clean("delivery")
    screenshots(page, "integrations/delivery")

    page.goto(f"{server_url}/admin/integrations/inboxdelivery/connect/{store.pk}/")
    assert page.get_by_text(
        f"/api/v1/integrations/shopify/{store.public_id}/webhooks/"
    ).is_visible()
    assert page.get_by_text(secret).is_visible()
    assert page.get_by_role("cell", name="customers/redact").is_visible()
    watch.assert_clean("connection page")
    no_sideways_scroll(page, "connection page")
    screenshots(page, "integrations/connect")
