import datetime
import io
import random
import threading
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from core.schedules import declared_periodic_tasks
from loyalty import ledger, tasks
from loyalty.models import (
    LedgerEntry,
    PointLot,
    ReportCohortDay,
    ReportEntryDay,
    ReportJoinDay,
    ReportMemberDay,
    ReportOrderDay,
    ReportWatermark,
)
from loyalty.reports import aggregates, buckets
from tests.loyalty.factories import expire as expire_lots
from tests.loyalty.factories import (
    member_make,
    order_post,
    program_merchant,
    refund_post,
    release_due,
)
from tests.loyalty.reports.builders import TEST, adjust, at, earn, run_job, snapshot, spend

pytestmark = pytest.mark.django_db


def test_day_ranges_merge_consecutive_days():
    d = datetime.date
    days = [d(2027, 1, 3), d(2027, 1, 1), d(2027, 1, 2), d(2027, 1, 5), d(2027, 1, 5)]
    assert buckets.day_ranges(days) == [(d(2027, 1, 1), d(2027, 1, 3)), (d(2027, 1, 5),) * 2]
    assert buckets.day_ranges([]) == []


def test_entries_bucket_by_the_merchants_local_day_around_midnight():
    merchant, _ = program_merchant()
    merchant.timezone = "Asia/Tokyo"  # UTC+9, no daylight saving
    merchant.save()
    member = member_make(merchant)
    # 23:59 and 00:01 in Tokyo: 14:59 and 15:01 UTC of the same UTC day.
    earn(member, 10, at("2026-11-02", 14, 59))
    earn(member, 7, at("2026-11-02", 15, 1))
    order_post(merchant, member, "5.00", placed_at=at("2026-11-03", 23, 30, tz="Asia/Tokyo"))
    run_job()

    earned = dict(
        ReportEntryDay.objects.filter(
            merchant=merchant, kind="earn", source_type="activity"
        ).values_list("day", "points")
    )
    assert earned == {datetime.date(2026, 11, 2): 10, datetime.date(2026, 11, 3): 7}
    cohorts = set(ReportCohortDay.objects.filter(merchant=merchant).values_list("day", "cohort"))
    assert (datetime.date(2026, 11, 3), datetime.date(2026, 11, 1)) in cohorts
    assert list(ReportOrderDay.objects.filter(merchant=merchant).values_list("day", "orders")) == [
        (datetime.date(2026, 11, 3), 1)
    ]


def test_running_the_job_twice_changes_nothing():
    merchant, _ = program_merchant()
    member = member_make(merchant, country="DE", points=40)
    order = order_post(merchant, member, "30.00").obj
    refund_post(merchant, order.external_id, "10.00")
    spend(member, 25, timezone.now())
    first = run_job()
    assert first.rows > 0
    assert first.buckets == 1
    before = snapshot()
    again = run_job()
    assert (again.rows, again.buckets) == (0, 0)
    assert snapshot() == before
    # Recomputing the same bucket by hand gives the same rows too.
    today = timezone.localdate(timezone=merchant.timezone)
    with transaction.atomic():
        buckets.recompute(merchant_id=merchant.pk, tz=merchant.timezone, ranges=[(today, today)])
    assert snapshot() == before


def test_another_merchants_rows_are_never_in_a_merchants_aggregates():
    merchant, _ = program_merchant()
    other, _ = program_merchant()
    mine = member_make(merchant, country="FR")
    theirs = member_make(other, country="FR", points=500)
    order_post(merchant, mine, "12.00")
    order_post(other, theirs, "999.00")
    spend(theirs, 100, timezone.now())
    run_job()

    assert ReportJoinDay.objects.get(merchant=merchant).members == 1
    assert ReportOrderDay.objects.get(merchant=merchant).revenue == Decimal("12.0000")
    assert set(
        ReportMemberDay.objects.filter(merchant=merchant).values_list("member", flat=True)
    ) == {mine.pk}
    assert not ReportEntryDay.objects.filter(merchant=merchant, kind="redeem").exists()
    assert (
        ReportEntryDay.objects.filter(merchant=merchant).values_list("points", flat=True).get()
        == 12
    )


def test_the_job_waits_the_settle_delay_before_reading_new_rows(settings):
    settings.REPORT_AGGREGATES_SETTLE_SECONDS = 60
    merchant, _ = program_merchant()
    member_make(merchant, points=5)
    t0 = timezone.now()

    assert run_job(t0).rows == 0  # sees the rows, reads none yet
    assert aggregates.aggregates_as_of() is None
    assert run_job(t0 + datetime.timedelta(seconds=30)).rows == 0
    assert not ReportEntryDay.objects.exists()

    later = run_job(t0 + datetime.timedelta(seconds=61))
    assert later.rows > 0
    assert ReportEntryDay.objects.get(merchant=merchant).points == 5
    # Everything committed before the rows were seen is in.
    assert aggregates.aggregates_as_of() == t0


def test_a_row_committed_behind_the_watermark_is_recovered_by_the_reconcile():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    run_job()
    earn(member, 30, timezone.now())
    # The job already passed these ids (their transaction committed after it read).
    for source in aggregates.SOURCES:
        top = source.model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        ReportWatermark.objects.filter(source=source.name).update(last_id=top, seen_id=top)
    run_job()
    assert not ReportEntryDay.objects.filter(merchant=merchant, kind="earn").exists()

    result = aggregates.aggregates_reconcile(now=timezone.now())
    assert merchant.pk in result.merchants
    assert ReportEntryDay.objects.get(merchant=merchant, kind="earn").points == 30


def test_as_of_is_when_the_rows_read_were_seen():
    t0 = timezone.now()
    run_job(t0)
    assert aggregates.aggregates_as_of() == t0
    assert ReportWatermark.objects.filter(finished_at__isnull=False).count() == len(
        aggregates.SOURCES
    )


def test_the_job_reads_a_backlog_in_bounded_batches():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    for n in range(5):
        earn(member, 10 + n, timezone.now())
    # The backlog is this test's rows. Ids are never reused: on a database other tests
    # wrote to before, they start far above 0, and two ids a run would take the job
    # thousands of runs through ranges rolled back long ago to reach them.
    ReportWatermark.objects.bulk_create(
        [ReportWatermark(source=source.name) for source in aggregates.SOURCES],
        ignore_conflicts=True,
    )
    for source in aggregates.SOURCES:
        first_id = source.model.objects.aggregate(first=Min("pk"))["first"] or 1
        ReportWatermark.objects.filter(source=source.name).update(last_id=first_id - 1)

    runs = [aggregates.aggregates_update(now=timezone.now(), batch_size=2)]
    while runs[-1].rows:
        runs.append(aggregates.aggregates_update(now=timezone.now(), batch_size=2))

    assert runs[0].rows > 0
    assert len(runs) >= 3  # more than one batch, then a run with nothing left
    assert all(run.rows <= 2 * len(aggregates.SOURCES) for run in runs)
    assert ReportEntryDay.objects.get(merchant=merchant, kind="earn").points == 60
    assert aggregates.aggregates_as_of() is not None


def test_the_incremental_job_refuses_a_merchant():
    with pytest.raises(ValueError, match="every merchant"):
        aggregates.aggregates_update(now=timezone.now(), merchant_id=1)


def _random_history(merchant, members, rng: random.Random, start: datetime.datetime):
    """Orders, refunds, redemptions (some given back), expiries, releases and adjustments
    over ten days across a month end, the job run between steps."""
    orders = []
    for step in range(40):
        when = start + datetime.timedelta(hours=6 * step + rng.randrange(6))
        member = rng.choice(members)
        member.refresh_from_db()
        action = rng.choice(
            ["order", "order", "refund", "spend", "refund_spend", "expire", "release", "adjust"]
        )
        if action == "order":
            placed = min(when, timezone.now())
            orders.append(
                order_post(merchant, member, f"{rng.randint(1, 90)}.00", placed_at=placed).obj
            )
        elif action == "refund" and orders:
            order = rng.choice(orders)
            order.refresh_from_db()
            left = order.total - order.refunded_total
            if left > 0:
                refund_post(merchant, order.external_id, min(left, Decimal(rng.randint(1, 40))))
        elif action in ("spend", "refund_spend") and member.points_balance:
            entry = spend(member, rng.randint(1, member.points_balance), when)
            if action == "refund_spend":
                ledger.points_refund_spend(
                    spend_entry=entry,
                    reason="failed",
                    at=when + datetime.timedelta(hours=1),
                    actor=TEST,
                )
        elif action == "expire":
            lots = list(
                PointLot.objects.filter(
                    member=member, released_at__isnull=False, remaining__gt=0
                ).values_list("pk", flat=True)[:1]
            )
            if lots:
                expire_lots(member, lots, now=when)
        elif action == "release":
            release_due(member, now=when + datetime.timedelta(days=30))
        else:
            points = rng.choice([15, 40, -5])
            if points > 0 or member.points_balance >= -points:
                adjust(member, points, when, source=rng.choice(["staff", "ticket"]))
        if rng.random() < 0.5:
            run_job()
        if rng.random() < 0.3:
            earn(member, rng.randint(1, 30), when, pending=rng.random() < 0.5)


@pytest.mark.parametrize("seed", [1, 7])
def test_rebuild_equals_the_incremental_aggregates(seed):
    rng = random.Random(seed)
    merchant, _ = program_merchant(pending_days=14)
    merchant.timezone = "America/New_York"
    merchant.save()
    other, _ = program_merchant()
    members = [member_make(merchant, country=c) for c in ("US", "CA", "US")]
    _random_history(merchant, members, rng, at("2026-10-27", 3))
    _random_history(other, [member_make(other)], rng, at("2026-10-29", 20))
    run_job()
    incremental = snapshot()
    assert incremental["ReportEntryDay"]
    assert incremental["ReportCohortDay"]
    assert len({row[1] for row in incremental["ReportEntryDay"]}) >= 4  # several days
    kinds = {row[2] for row in incremental["ReportEntryDay"]}
    assert kinds == {kind.value for kind in LedgerEntry.Kind}
    months = {row[2] for row in incremental["ReportCohortDay"]}
    assert len(months) >= 2  # across a month boundary

    aggregates.aggregates_rebuild()
    assert snapshot() == incremental
    call_command("report_aggregates_rebuild", "--merchant", merchant.slug, stdout=io.StringIO())
    assert snapshot() == incremental


def test_rebuild_command_refuses_an_unknown_merchant():
    with pytest.raises(CommandError):
        call_command("report_aggregates_rebuild", "--merchant", "nobody")


def test_rebuild_drops_rows_of_days_without_sources():
    merchant, _ = program_merchant()
    ReportOrderDay.objects.create(
        merchant=merchant, day=datetime.date(2020, 1, 1), orders=3, revenue=1, refunds=0, refunded=0
    )
    aggregates.aggregates_rebuild(merchant_id=merchant.pk)
    assert not ReportOrderDay.objects.filter(merchant=merchant).exists()


def test_the_commands_and_the_task_run_the_jobs(capsys):
    merchant, _ = program_merchant()
    member_make(merchant, points=9)
    call_command("report_aggregates_update")
    assert "bucket(s) recomputed" in capsys.readouterr().out
    assert ReportEntryDay.objects.get(merchant=merchant).points == 9
    call_command("report_aggregates_reconcile", "--merchant", merchant.slug)
    assert ReportEntryDay.objects.get(merchant=merchant).points == 9
    assert "recomputed" in tasks.report_aggregates_update()["summary"]
    assert "recomputed" in tasks.report_aggregates_reconcile()["summary"]


def test_the_jobs_are_scheduled():
    specs = {spec["task"]: spec for spec in declared_periodic_tasks()}
    assert specs["loyalty.report_aggregates_update"]["crontab"] == "* * * * *"
    assert "loyalty.report_aggregates_reconcile" in specs


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_leaves_at_once_while_another_holds_the_watermarks():
    merchant, _ = program_merchant()
    member_make(merchant, points=3)
    run_job()
    member_make(merchant, points=4)
    held = threading.Event()
    release = threading.Event()

    def hold():
        try:
            with transaction.atomic():
                aggregates._watermarks_lock(wait=True)
                held.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    try:
        assert not run_job().ran
    finally:
        release.set()
        holder.join()
    assert run_job().ran
    assert ReportEntryDay.objects.get(merchant=merchant).points == 7


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_do_not_double_count():
    merchant, _ = program_merchant()
    members = [member_make(merchant, points=10 + n) for n in range(4)]
    for member in members:
        order_post(merchant, member, "20.00")
    results = []
    barrier = threading.Barrier(3)

    def work():
        try:
            barrier.wait(10)
            results.append(run_job())
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    run_job()
    assert any(result.ran and result.rows for result in results)
    incremental = snapshot()
    assert ReportOrderDay.objects.get(merchant=merchant).orders == 4
    assert ReportJoinDay.objects.get(merchant=merchant).members == 4
    aggregates.aggregates_rebuild()
    assert snapshot() == incremental


def test_a_25_hour_local_day_is_one_bucket():
    merchant, _ = program_merchant()
    merchant.timezone = "America/New_York"  # clocks go back on 1 November 2026
    merchant.save()
    member = member_make(merchant)
    earn(member, 1, at("2026-11-01", 3, 30))  # 23:30 EDT on 31 October
    earn(member, 2, at("2026-11-01", 4, 30))  # 00:30 EDT on 1 November
    earn(member, 4, at("2026-11-02", 4, 30))  # 23:30 EST on 1 November
    earn(member, 8, at("2026-11-02", 5, 30))  # 00:30 EST on 2 November
    run_job()
    earned = dict(
        ReportEntryDay.objects.filter(merchant=merchant, kind="earn").values_list("day", "points")
    )
    assert earned == {
        datetime.date(2026, 10, 31): 1,
        datetime.date(2026, 11, 1): 6,
        datetime.date(2026, 11, 2): 8,
    }
    before = snapshot()
    with transaction.atomic():
        day = datetime.date(2026, 11, 1)
        buckets.recompute(merchant_id=merchant.pk, tz=merchant.timezone, ranges=[(day, day)])
    assert snapshot() == before


def test_after_a_full_rebuild_the_job_does_not_read_the_history_again():
    merchant, _ = program_merchant()
    member = member_make(merchant, points=12)
    order_post(merchant, member, "8.00")
    aggregates.aggregates_rebuild()
    rebuilt = snapshot()
    assert rebuilt["ReportEntryDay"]
    assert run_job().rows == 0
    assert snapshot() == rebuilt
    earn(member, 3, timezone.now())
    assert run_job().rows > 0
    assert (
        ReportEntryDay.objects.get(merchant=merchant, kind="earn", source_type="activity").points
        == 3
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_row_that_commits_after_a_higher_id_is_read_within_the_settle_delay(settings):
    settings.REPORT_AGGREGATES_SETTLE_SECONDS = 60
    merchant, _ = program_merchant()
    slow, quick = member_make(merchant), member_make(merchant)
    t0 = timezone.now()
    run_job(t0 - datetime.timedelta(minutes=5))
    run_job(t0 - datetime.timedelta(minutes=3))  # the members are in
    written = threading.Event()
    commit = threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                earn(slow, 100, t0)  # takes its ids first
                written.set()
                commit.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert written.wait(10)
    earn(quick, 1, t0)  # higher ids, committed first
    run_job(t0)  # sees the quick entry's id as the newest
    commit.set()
    writer.join()

    run_job(t0 + datetime.timedelta(seconds=61))
    earned = dict(
        ReportMemberDay.objects.filter(merchant=merchant).values_list("member", "points_earned")
    )
    assert earned == {slow.pk: 100, quick.pk: 1}
    assert ReportEntryDay.objects.get(merchant=merchant, kind="earn").points == 101


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("report_aggregates_update", ["--batch-size", "0"]),
        ("report_aggregates_update", ["--now", "yesterday"]),
        ("report_aggregates_reconcile", ["--merchant", "nobody"]),
    ],
)
def test_the_job_commands_refuse_bad_input(command, args):
    with pytest.raises(CommandError):
        call_command(command, *args)
    assert not ReportEntryDay.objects.exists()


def test_the_update_command_takes_no_merchant():
    with pytest.raises(CommandError, match="merchant"):
        call_command("report_aggregates_update", "--merchant", "shop")


def test_a_backdated_order_recomputes_the_day_it_was_placed():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    order_post(merchant, member, "10.00")
    run_job()
    placed = timezone.now() - datetime.timedelta(days=3)
    order_post(merchant, member, "40.00", placed_at=placed)
    run_job()
    days = dict(ReportOrderDay.objects.filter(merchant=merchant).values_list("day", "revenue"))
    assert days == {
        timezone.localdate(): Decimal("10.0000"),
        timezone.localdate(placed): Decimal("40.0000"),
    }


def test_the_reconcile_recomputes_today_and_yesterday_in_the_merchants_zone():
    merchant, _ = program_merchant()
    merchant.timezone = "Pacific/Auckland"
    merchant.save()
    member = member_make(merchant)
    now = at("2026-11-02", 1)  # 14:00 on 2 November in Auckland
    earn(member, 5, at("2026-11-01", 1))  # 1 November there: yesterday
    earn(member, 9, at("2026-10-31", 1))  # 31 October there: older
    ReportEntryDay.objects.all().delete()

    aggregates.aggregates_reconcile(now=now, merchant_id=merchant.pk)
    days = dict(
        ReportEntryDay.objects.filter(merchant=merchant, kind="earn").values_list("day", "points")
    )
    assert days == {datetime.date(2026, 11, 1): 5}
