"""The ops console in a real browser, on the demo data:

- every list fits 1440 px beside the sidebar, with no sideways scroll of its table or of
  the page;
- a user of each staff group opens the home, the list behind each card they see, a record
  page, and a search, with no script or policy error, and sees nothing of another group's;
- the home, a list and the member page have no serious accessibility fault at 390 px and
  1440 px (screenshots kept);
- with scripts off, the admin still signs in and shows its lists.

One test seeds the demo once and walks it all: seeding is the slow part."""

import re
import tempfile
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from core.models import JobRun
from core.staff_groups import STAFF_GROUPS
from loyalty.models import Member
from tests.config.test_csp_browser import Watch, screenshots
from tests.merchants.factories import StaffFactory
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "pass-word-123"
WIDTH = 1440

# The table's own width against the box it sits in, and the page's against the window.
MEASURE = """() => {
  const table = document.querySelector('#result_list');
  return {
    table: table ? table.scrollWidth : 0,
    box: table ? table.parentElement.clientWidth : 0,
    page: document.documentElement.scrollWidth,
    rows: table ? table.querySelectorAll('tbody tr').length : 0,
    columns: table ? Array.from(table.querySelectorAll('thead th')).map(
      th => `${th.innerText.trim()} ${th.offsetWidth}`) : [],
  };
}"""


def sign_in(page, server_url: str, username: str) -> None:  # noqa: F811
    page.context.clear_cookies()
    page.goto(f"{server_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_url(f"{server_url}/admin/")


def changelists() -> list[str]:
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]


def test_the_console_on_the_demo_data(server_url, page):  # noqa: F811
    with override_settings(MEDIA_ROOT=tempfile.mkdtemp(prefix="loyalty-tour-")):
        call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    StaffFactory(username="ops-lead", is_superuser=True, password=PASSWORD)
    watch = Watch(page)
    page.set_viewport_size({"width": WIDTH, "height": 900})

    # Every list fits.
    sign_in(page, server_url, "ops-lead")
    too_wide, shown = [], 0
    for url in changelists():
        page.goto(f"{server_url}{url}")
        size = page.evaluate(MEASURE)
        shown += bool(size["rows"])
        if size["table"] > size["box"] + 1 or size["page"] > WIDTH:
            too_wide.append(
                f"{url}: table {size['table']} in {size['box']}, page {size['page']}, "
                f"columns {size['columns']}"
            )
    assert too_wide == []
    assert shown >= 30  # the demo fills most lists: the check looked at real rows
    watch.assert_clean("every list")

    # The home, a list and the member page, at both widths, with axe.
    member = Member.objects.filter(email__isnull=False).order_by("pk").first()
    for name, url in (
        ("home", "/admin/"),
        ("members", "/admin/loyalty/member/"),
        ("ledger", "/admin/loyalty/ledgerentry/"),
        ("redemptions", "/admin/fulfillment/redemption/"),
        ("member", reverse("admin:loyalty_member_change", args=[member.pk])),
    ):
        page.goto(f"{server_url}{url}")
        screenshots(page, f"admin-tour/{name}")
    watch.assert_clean("home, lists and the member page")

    # Each staff group: the home, each card's list, a record page and a search.
    for group in STAFF_GROUPS:
        username = f"staff-{group.lower().replace(' ', '-')}"
        user = StaffFactory(username=username, password=PASSWORD)
        user.groups.add(Group.objects.get(name=group))
        sign_in(page, server_url, username)
        cards = page.locator(".ops-card-link").evaluate_all("links => links.map(a => a.href)")
        records = []
        for href in cards:
            response = page.goto(href)
            assert response.status == 200, (group, href)
            assert "e=1" not in page.url, (group, href)
            first = page.locator("#result_list tbody tr a[href*='/change/']").first
            if first.count():
                records.append(first.get_attribute("href"))
        # The record page behind each card's first row.
        for href in dict.fromkeys(records):
            response = page.goto(f"{server_url}{href}")
            assert response.status == 200, (group, href)
        page.goto(f"{server_url}/admin/search/all/?q={member.email[:6]}")
        assert page.locator("form[role=search]").first.is_visible()
        member_page = reverse("admin:loyalty_member_change", args=[member.pk])
        response = page.goto(f"{server_url}{member_page}")
        assert response.status in {200, 403}, group
        if group == "Customer care":
            page.goto(f"{server_url}/admin/")
            screenshots(page, f"admin-tour/home-{username}")
        if group == "Operations":
            # A job run from its page: asked first, then recorded with who started it.
            job = PeriodicTask.objects.get(name="Worker heartbeat")
            job_page = reverse("admin:django_celery_beat_periodictask_change", args=[job.pk])
            page.goto(f"{server_url}{job_page}")
            page.get_by_role("link", name="Run now").first.click()
            page.locator("form [name=apply]").click()
            page.wait_for_url(re.compile(r".*/admin/core/jobrun/\d+/change/$"))
            run = JobRun.objects.get(task_name=job.task, started_by_user=user)
            assert run.outcome == "succeeded", run.outcome
        watch.assert_clean(f"{group}'s tour")

    # With scripts off: sign-in and a list still work.
    context = page.context.browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    sign_in(plain, server_url, "ops-lead")
    plain.goto(f"{server_url}/admin/loyalty/member/")
    assert plain.locator("#result_list").is_visible()
    assert plain.get_by_text(member.external_id).first.is_visible()
    context.close()
