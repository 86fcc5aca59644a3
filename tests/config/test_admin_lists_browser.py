"""Every list of the ops console, on the demo data in a real browser at 1440 px: the table
fits beside the sidebar with no sideways scroll, and the page has none either."""

import tempfile
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from tests.config.test_csp_browser import screenshots
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "a-long-pass-phrase"
WIDTH = 1440

# The table's own width against the box it sits in, and the page's against the window.
MEASURE = """() => {
  const table = document.querySelector('#result_list');
  return {
    table: table ? table.scrollWidth : 0,
    box: table ? table.parentElement.clientWidth : 0,
    page: document.documentElement.scrollWidth,
    rows: table ? table.querySelectorAll('tbody tr').length : 0,
  };
}"""


def test_every_list_fits_1440_px_on_the_demo_data(server_url, page):  # noqa: F811
    with override_settings(MEDIA_ROOT=tempfile.mkdtemp(prefix="loyalty-lists-")):
        call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    get_user_model().objects.create_superuser("lists", "lists@example.com", PASSWORD)
    page.set_viewport_size({"width": WIDTH, "height": 900})
    page.goto(f"{server_url}/admin/login/")
    page.fill("#id_username", "lists")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_url(f"{server_url}/admin/")

    too_wide, shown = [], 0
    for model in admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        page.goto(f"{server_url}{url}")
        size = page.evaluate(MEASURE)
        shown += bool(size["rows"])
        if size["table"] > size["box"] + 1 or size["page"] > WIDTH:
            too_wide.append(f"{url}: table {size['table']} in {size['box']}, page {size['page']}")
    assert too_wide == []
    assert shown >= 30  # the demo fills most lists: the check looked at real rows

    for name in ("loyalty/member", "loyalty/ledgerentry", "fulfillment/redemption"):
        page.goto(f"{server_url}/admin/{name}/")
        screenshots(page, f"admin-lists/{name.replace('/', '-')}")
