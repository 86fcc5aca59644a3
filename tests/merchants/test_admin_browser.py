"""Ops staff move a merchant along its onboarding in a real browser (Debian's Chromium)."""

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import WSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler

from core.actors import SYSTEM
from merchants.models import Merchant, MerchantEvent, MerchantStatus
from merchants.services.lifecycle import merchant_transition
from tests.merchants.factories import MerchantFactory

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
]


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()
            # ORM calls made while Playwright runs get a connection of their own context.
            connections.close_all()


class OneThreadServer(LiveServerThread):
    """Serves every request on the server's own thread, so that stopping it closes every
    database connection it opened (a threaded server's request threads may outlive it)."""

    def _create_server(self, connections_override=None):
        return WSGIServer(
            (self.host, self.port), QuietWSGIRequestHandler, allow_reuse_address=False
        )


@pytest.fixture
def server_url(transactional_db):
    """The app served on a free loopback port for this test only; stopping it closes its
    database connections, so the test database can be dropped afterwards."""
    shared = {
        conn.alias: conn
        for conn in connections.all()
        if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread = OneThreadServer("127.0.0.1", StaticFilesHandler, connections_override=shared)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    try:
        yield f"http://127.0.0.1:{thread.port}"
    finally:
        thread.terminate()
        for conn in shared.values():
            conn.dec_thread_sharing()


def test_ops_approves_a_merchant_from_its_page_with_a_reason(server_url, page, tmp_path):
    get_user_model().objects.create_superuser("ops", "ops@example.com", "a-long-pass-phrase")
    merchant = MerchantFactory(name="Fjord Gear", slug="fjord-gear")
    merchant_transition(
        merchant=merchant, to_status=MerchantStatus.IN_REVIEW, reason="docs in", actor=SYSTEM
    )

    page.goto(f"{server_url}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "a-long-pass-phrase")
    page.click("#login-form [type=submit]")
    page.goto(f"{server_url}/admin/merchants/merchant/{merchant.pk}/change/")
    assert page.get_by_role("link", name="Approve", exact=True).is_visible()
    assert page.get_by_role("link", name="Go live (or reactivate)", exact=True).count() == 0

    page.get_by_role("link", name="Approve", exact=True).click()
    page.fill("#id_reason", "KYC documents verified")
    page.click("input[name=apply]")
    page.wait_for_url(f"**/admin/merchants/merchant/{merchant.pk}/change/")
    page.get_by_text("moved to approved").first.wait_for()
    page.screenshot(path=str(tmp_path / "merchant-approved.png"), full_page=True)

    merchant = Merchant.objects.get(pk=merchant.pk)
    assert merchant.status == MerchantStatus.APPROVED
    event = merchant.events.filter(kind=MerchantEvent.Kind.STATUS_CHANGED).first()
    assert (event.to_status, event.reason, event.actor_label) == (
        "approved",
        "KYC documents verified",
        "ops",
    )
    # Going live is refused in the browser too while the checklist is open.
    page.get_by_role("link", name="Go live (or reactivate)", exact=True).click()
    page.fill("#id_reason", "launch")
    page.click("input[name=apply]")
    page.get_by_text("Complete the onboarding checklist first").first.wait_for()
    assert Merchant.objects.get(pk=merchant.pk).status == MerchantStatus.APPROVED
