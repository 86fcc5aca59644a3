"""The Time zone page in a real browser (Debian's Chromium) set to Manila's time, under the
site's Content-Security-Policy: the page offers the browser's zone, saves it, and the job
runs then read in it. Screenshots at 390 px and 1440 px (``var/screenshots/admin-time-zone-*``),
each checked with axe-core."""

import datetime
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from core.models import JobOutcome, JobRun, JobStarter
from tests.config.test_csp_browser import PASSWORD, Watch, screenshots, sign_in
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


def test_staff_take_their_browsers_zone_and_read_times_in_it(server_url, page):  # noqa: F811
    cache.clear()
    get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    JobRun.objects.create(
        task_id=str(uuid.uuid4()),
        task_name="core.prune_job_runs",
        job_name="Prune job runs",
        outcome=JobOutcome.SUCCEEDED,
        started_by=JobStarter.BEAT,
        started_at=datetime.datetime(2026, 12, 7, 15, 45, 3, tzinfo=datetime.UTC),
    )
    in_manila = page.context.browser.new_context(timezone_id="Asia/Manila").new_page()
    watch = Watch(in_manila)
    sign_in(in_manila, server_url, "ops")
    assert in_manila.locator('a[href="/admin/time-zone/"]').count() >= 1

    in_manila.goto(f"{server_url}/admin/time-zone/")
    offer = in_manila.locator("#staff-time-zone-browser")
    assert offer.is_visible()
    assert "Asia/Manila" in offer.inner_text()
    screenshots(in_manila, "admin-time-zone")
    offer.get_by_role("button", name="Use it").click()
    assert in_manila.locator("#id_time_zone").input_value() == "Asia/Manila"
    in_manila.get_by_role("button", name="Save").click()
    in_manila.wait_for_url(f"{server_url}/admin/time-zone/")
    assert "Times are now shown in Asia/Manila." in in_manila.content()
    assert not offer.is_visible()  # the browser's zone is the one chosen now
    screenshots(in_manila, "admin-time-zone-saved")

    in_manila.goto(f"{server_url}/admin/core/jobrun/")
    assert "7 Dec 2026, 23:45:03 PST" in in_manila.locator("#result_list").inner_text()
    screenshots(in_manila, "admin-time-zone-job-runs")
    watch.assert_clean("admin time zone page")
