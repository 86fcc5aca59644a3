"""A member redeems a reward in the portal and a real Celery worker delivers it.

One end-to-end test on PostgreSQL (the worker shares the test database) and Redis (the
worker of ``tests/fulfillment/test_worker_crash_e2e``, on queues of this test's own), in
Debian's Chromium against a live server:

1. The member redeems 10 USD of a gift card from the sandbox supplier through the form.
   The dispatch the redemption enqueues when it commits goes to the worker's queue
   instead of running eagerly in this process (the test settings).
2. The worker places the order with the sandbox, which delivers at once; the member's
   My rewards page shows the reward delivered (reloaded until it does, with a deadline).
3. "Show my code" leads to the claim page, whose button shows the code the worker stored.
"""

import re
import time

import pytest

from fulfillment import enqueue
from fulfillment.enqueue import DISPATCH_REDEMPTION
from fulfillment.models import DeliveredCode, Redemption, RedemptionStatus
from tests.fulfillment.test_worker_crash_e2e import Broker, Worker, broker  # noqa: F401
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401
from tests.portals.test_member_portal_browser import northwind, sign_in_by_the_store

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]

DEADLINE_SECONDS = 30  # for the worker to deliver, once the member has redeemed


def test_a_reward_redeemed_in_the_portal_is_delivered_by_the_worker(
    server_url,  # noqa: F811
    page,  # noqa: F811
    broker: Broker,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    shop = northwind()
    base = f"{server_url}{shop.base}"
    sent: dict[int, str] = {}  # redemption id: the dispatch task's id

    def dispatch_by_the_worker(redemption_id: int) -> None:
        sent[redemption_id] = broker.send(DISPATCH_REDEMPTION, redemption_id)

    monkeypatch.setattr(enqueue, "dispatch_task_send", dispatch_by_the_worker)
    worker = Worker(broker, tmp_path, "worker")  # starts while the browser works
    try:
        sign_in_by_the_store(page, server_url, shop)
        page.goto(f"{base}/rewards/{shop.reward.pk}/")
        page.get_by_role("radio", name=re.compile(r"\$10\.00")).check()
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name=re.compile("^Confirm: spend")).click()
        redemption = Redemption.objects.exclude(pk=shop.redemption.pk).get(member=shop.member)
        page.wait_for_url(f"{base}/my-rewards/{redemption.public_id}/?new=1")
        assert "Done! Your reward is" in page.locator("main").inner_text()  # prepared or ready

        page.goto(f"{base}/my-rewards/")
        row = page.locator(".my-rewards li").first  # the newest
        started = time.monotonic()
        while row.locator(".status").inner_text() != "Delivered":
            worker.alive()
            assert time.monotonic() - started < DEADLINE_SECONDS, (
                f"not delivered within {DEADLINE_SECONDS}s: {row.inner_text()}\n{worker.text()}"
            )
            time.sleep(0.25)
            page.reload()
        assert "$10.00" in row.inner_text()
        assert worker.result_of(sent[redemption.pk]).startswith("'1 claimed")
    finally:
        worker.stop()
    print(f"----- worker -----\n{worker.text()}")
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.DELIVERED
    # The worker enqueued the delivery email (on its own queue: nobody sends it here).
    [email] = broker.messages(broker.mail_queue)
    assert email["headers"]["task"] == "fulfillment.send_delivery_email"

    row.get_by_role("link").click()
    page.wait_for_url(f"{base}/my-rewards/{redemption.public_id}/")
    page.get_by_role("button", name="Show my code").click()
    page.wait_for_url(re.compile(rf"{server_url}/claim/[^/]+/$"))
    page.get_by_role("button", name="Show my code").click()
    (code,) = DeliveredCode.objects.filter(redemption=redemption)
    assert page.locator(".code").first.inner_text() == code.code
