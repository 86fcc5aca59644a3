"""The portals' scheduled jobs, each run twice at the same moment on PostgreSQL and then
once more: their effects happen once (tests/jobs_twice.py)."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from loyalty.reports import aggregates
from portals import tasks
from portals.member_exports import member_exports_make
from portals.models import MemberExport, ReportSnapshot
from portals.report_page import merchant_today
from portals.snapshots import dashboard_periods
from tests.jobs_twice import covers, run, run_twice_at_once
from tests.loyalty.factories import member_make, order_post, program_merchant

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_settle_delay(settings):
    settings.REPORT_AGGREGATES_SETTLE_SECONDS = 0


@covers(tasks.refresh_report_snapshots)
def test_refreshing_report_snapshots_twice_at_once_keeps_one_snapshot_per_period():
    merchants = [program_merchant()[0] for _ in range(2)]
    for merchant in merchants:
        order_post(merchant, member_make(merchant), "40.00")
    aggregates.aggregates_update(now=timezone.now())
    periods = {
        merchant.pk: {(p.start, p.end) for p in dashboard_periods(today=merchant_today(merchant))}
        for merchant in merchants
    }

    results = run_twice_at_once(tasks.refresh_report_snapshots)

    assert all(result["rows"] > 0 for result in results), results
    stored = sorted(ReportSnapshot.objects.values_list("merchant_id", "start", "end"))
    assert stored == sorted((pk, *period) for pk, spans in periods.items() for period in spans)
    kept = sorted(ReportSnapshot.objects.values_list("pk", "computed_at"))
    assert run(tasks.refresh_report_snapshots)["rows"] == 0
    assert sorted(ReportSnapshot.objects.values_list("pk", "computed_at")) == kept


@covers(tasks.make_member_exports)
def test_making_member_exports_twice_at_once_makes_one_file_a_merchant_and_keeps_a_week():
    merchants = [program_merchant()[0] for _ in range(2)]
    for merchant in merchants:
        member_make(merchant, "one")
    now = timezone.now()
    for night in range(MemberExport.KEPT, 0, -1):
        with time_machine.travel(now - datetime.timedelta(days=night)):
            member_exports_make(now=timezone.now())
    oldest = list(MemberExport.objects.filter(day__lt=now.date() - datetime.timedelta(days=6)))
    assert len(oldest) == 2
    storage = oldest[0].file.storage

    results = run_twice_at_once(tasks.make_member_exports)

    # Each run may make one merchant's file while the other makes the other's: together
    # they make one a merchant and remove each old one once.
    assert sum(int(result.split()[0]) for result in results) == 2, results
    assert sum(int(result.split()[3]) for result in results) == 2, results
    exports = MemberExport.objects.all()
    for merchant in merchants:
        days = list(exports.filter(merchant=merchant).values_list("day", flat=True))
        assert len(days) == len(set(days)) == MemberExport.KEPT
        assert days[0] == now.astimezone(merchant.timezone).date()
    assert not any(storage.exists(old.file.name) for old in oldest)
    assert all(storage.exists(export.file.name) for export in exports)
    files = sorted(exports.values_list("pk", "file"))
    assert run(tasks.make_member_exports).startswith("0 export(s) made, 0 removed")
    assert sorted(exports.values_list("pk", "file")) == files
