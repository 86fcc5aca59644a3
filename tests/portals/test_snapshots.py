"""Report snapshots: a period's figures are computed once and read until a source of the
period changes; the job keeps the dashboard's presets current; a snapshot that does not
fit the code is computed again; each merchant's are its own."""

import datetime
import io

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from core.actors import SYSTEM
from customercare import services as care_services
from customercare.models import TicketStatus
from loyalty.reports import aggregates, buckets
from loyalty.services.programs import program_get_active, program_save
from portals.models import ReportSnapshot
from portals.periods import Period, preset_period
from portals.report_page import merchant_today
from portals.snapshots import (
    KEEP,
    dashboard_periods,
    figures_refresh,
    period_figures,
    snapshots_refresh,
)
from tests.customercare.factories import ticket_open
from tests.fulfillment.factories import redemption_delivered
from tests.loyalty.factories import order_post, points_give
from tests.portals.factories import signed_in

pytestmark = pytest.mark.django_db

# Noon in New York, mid-month: no local day ends while a test runs.
NOON = datetime.datetime(2026, 6, 10, 16, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def noon():
    with time_machine.travel(NOON, tick=True):
        yield


@pytest.fixture(autouse=True)
def no_settle_delay(settings):
    settings.REPORT_AGGREGATES_SETTLE_SECONDS = 0


def last_30(merchant) -> Period:
    return preset_period("last_30", today=merchant_today(merchant))


def figures_of(merchant, period: Period):
    (figures,) = period_figures(merchant=merchant, periods=[period])
    return figures


def snapshot(merchant, period: Period) -> ReportSnapshot:
    return ReportSnapshot.objects.get(merchant=merchant, start=period.start, end=period.end)


def order_in_aggregates(side, total: str = "40.00") -> None:
    order_post(side.merchant, side.member, total)
    aggregates.aggregates_update(now=timezone.now())


def test_a_period_is_computed_once_then_read_from_its_snapshot(pair):
    a, _ = pair
    period = last_30(a.merchant)
    first = figures_of(a.merchant, period)
    kept = snapshot(a.merchant, period)

    again = figures_of(a.merchant, period)

    assert again == first
    assert snapshot(a.merchant, period).computed_at == kept.computed_at
    assert kept.took_ms >= 0


def test_a_write_in_the_period_is_in_the_next_read(pair):
    a, _ = pair
    period = last_30(a.merchant)
    assert figures_of(a.merchant, period).program.orders.orders == 0

    order_in_aggregates(a)

    figures = figures_of(a.merchant, period)
    assert figures.program.orders.orders == 1
    assert figures.program.members_active == 1


def test_a_changed_snapshot_is_read_while_younger_than_the_lag_then_computed_again(pair, settings):
    settings.REPORT_SNAPSHOT_MAX_LAG_SECONDS = 120
    a, _ = pair
    period = last_30(a.merchant)
    figures_of(a.merchant, period)
    order_in_aggregates(a)

    assert figures_of(a.merchant, period).program.orders.orders == 0  # the job's to do
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=121), tick=True):
        assert figures_of(a.merchant, period).program.orders.orders == 1


def test_a_write_after_a_closed_period_leaves_its_snapshot_and_one_before_its_end_does_not(
    pair,
):
    a, _ = pair
    today = merchant_today(a.merchant)
    closed = Period(today - datetime.timedelta(days=40), today - datetime.timedelta(days=10))
    figures_of(a.merchant, closed)
    kept = snapshot(a.merchant, closed).computed_at

    order_in_aggregates(a)  # today: after the period
    figures_of(a.merchant, closed)
    assert snapshot(a.merchant, closed).computed_at == kept

    # A day before the end recomputed (as the nightly reconcile or a rebuild does): the
    # members total and the liability add up every day up to the end.
    buckets.recompute(
        merchant_id=a.merchant.pk,
        tz=a.merchant.timezone,
        ranges=[(closed.start - datetime.timedelta(days=5),) * 2],
    )
    figures_of(a.merchant, closed)
    assert snapshot(a.merchant, closed).computed_at > kept


def test_a_redemption_made_or_changed_in_the_period_is_in_the_next_read(pair):
    a, _ = pair
    period = last_30(a.merchant)
    points_give(a.member, 3000)
    assert figures_of(a.merchant, period).rewards.redemptions == 0

    redemption_delivered(a.merchant, a.member)  # no aggregates job run: the rewards moved

    rewards = figures_of(a.merchant, period).rewards
    assert rewards.redemptions == 1
    assert rewards.fulfillment_time.count == 1


def test_a_ticket_opened_and_one_resolved_later_are_in_the_next_reads(pair):
    a, _ = pair
    today = merchant_today(a.merchant)
    week = Period(today - datetime.timedelta(days=13), today - datetime.timedelta(days=7))
    with time_machine.travel(NOON - datetime.timedelta(days=10), tick=True):
        ticket = ticket_open(a.member)
    assert figures_of(a.merchant, week).care.opened == 1
    assert figures_of(a.merchant, week).care.resolution.count == 0
    kept = snapshot(a.merchant, week).computed_at

    # Resolved today: the week it was opened in has its resolution time now.
    care_services.ticket_move(ticket=ticket, to=TicketStatus.RESOLVED, actor=SYSTEM)

    assert figures_of(a.merchant, week).care.resolution.count == 1
    assert snapshot(a.merchant, week).computed_at > kept
    assert figures_of(a.merchant, last_30(a.merchant)).care.resolved == 1


def test_a_program_change_drops_the_merchants_snapshots(pair):
    a, b = pair
    figures_of(a.merchant, last_30(a.merchant))
    figures_of(b.merchant, last_30(b.merchant))
    program = program_get_active(merchant=a.merchant)
    program.points_name = "Beans"

    program_save(program=program, actor=SYSTEM)

    assert not ReportSnapshot.objects.filter(merchant=a.merchant).exists()
    assert ReportSnapshot.objects.filter(merchant=b.merchant).count() == 1
    assert figures_of(a.merchant, last_30(a.merchant)).program.points_name == "Beans"


@pytest.mark.parametrize("damage", [{"schema": "an-older-shape"}, {"figures": b"not a pickle"}])
def test_a_snapshot_that_does_not_fit_the_code_is_computed_again(pair, damage):
    a, _ = pair
    period = last_30(a.merchant)
    expected = figures_of(a.merchant, period)
    ReportSnapshot.objects.filter(merchant=a.merchant).update(**damage)

    again = figures_of(a.merchant, period)
    assert (again.program, again.rewards, again.care) == (
        expected.program,
        expected.rewards,
        expected.care,
    )
    assert again.computed_at > expected.computed_at
    assert snapshot(a.merchant, period).figures != b"not a pickle"
    assert snapshot(a.merchant, period).schema != "an-older-shape"


def test_a_computation_begun_earlier_never_replaces_a_later_one(pair):
    a, _ = pair
    period = last_30(a.merchant)
    later = timezone.now()
    figures_refresh(merchant=a.merchant, periods=[period])
    with time_machine.travel(later - datetime.timedelta(minutes=5), tick=False):
        figures_refresh(merchant=a.merchant, periods=[period])
    assert snapshot(a.merchant, period).computed_at >= later


def test_each_merchant_reads_its_own_snapshot_of_the_same_days(pair):
    a, b = pair
    order_in_aggregates(a, "75.00")

    assert figures_of(a.merchant, last_30(a.merchant)).program.orders.orders == 1
    assert figures_of(b.merchant, last_30(b.merchant)).program.orders.orders == 0


def test_the_job_computes_the_presets_then_only_what_a_write_touched(pair):
    a, _ = pair
    aggregates.aggregates_update(now=timezone.now())  # the pair's members and points
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=5), tick=True):
        now = timezone.now()
        periods = dashboard_periods(today=merchant_today(a.merchant))

        first = snapshots_refresh(now=now)

        assert first.merchants == 2
        assert first.computed == 2 * len(periods)
        assert ReportSnapshot.objects.filter(merchant=a.merchant).count() == len(periods)
        assert snapshots_refresh(now=now + datetime.timedelta(minutes=1)).computed == 0

        order_in_aggregates(a)
        # Changed, but not yet older than the refresh interval: left for the next run.
        assert snapshots_refresh(now=timezone.now()).computed == 0
        later = snapshots_refresh(now=timezone.now() + datetime.timedelta(minutes=2))

    # A's periods that hold today; the periods before, and B's, were not touched.
    today = merchant_today(a.merchant)
    assert later.computed == len([p for p in periods if p.end >= today])
    assert later.current == len(periods) * 2 - later.computed


def test_the_job_deletes_snapshots_of_other_ranges_after_a_day(pair):
    a, _ = pair
    today = merchant_today(a.merchant)
    custom = Period(today - datetime.timedelta(days=12), today - datetime.timedelta(days=3))
    figures_of(a.merchant, custom)

    kept = ReportSnapshot.objects.filter(merchant=a.merchant, start=custom.start, end=custom.end)

    snapshots_refresh(now=timezone.now())
    assert kept.exists()

    snapshots_refresh(now=timezone.now() + KEEP + datetime.timedelta(minutes=1))
    assert not kept.exists()


def test_the_job_passes_over_merchants_that_are_not_live(pair):
    _, b = pair
    b.merchant.status = "suspended"
    b.merchant.save(update_fields=["status"])

    result = snapshots_refresh(now=timezone.now())

    assert result.merchants == 1
    assert not ReportSnapshot.objects.filter(merchant=b.merchant).exists()


def test_the_dashboard_offers_the_last_365_days_and_reads_the_jobs_snapshot(pair, settings):
    settings.REPORT_SNAPSHOT_MAX_LAG_SECONDS = 120
    a, _ = pair
    order_in_aggregates(a, "19.99")
    snapshots_refresh(now=timezone.now())
    year = preset_period("last_365", today=merchant_today(a.merchant))
    computed = snapshot(a.merchant, year).computed_at

    response = signed_in(a.analyst).get(reverse("portals:dashboard"), {"period": "last_365"})

    assert response.status_code == 200
    assert 'value="last_365"' in response.content.decode()
    assert response.context["report"].program.orders.orders == 1
    assert snapshot(a.merchant, year).computed_at == computed


def test_the_page_kept_for_a_version_of_the_figures_is_not_shown_after_a_write(pair):
    a, _ = pair
    client = signed_in(a.analyst)
    order_in_aggregates(a, "1234.50")
    first = client.get(reverse("portals:dashboard"))
    report = first.context["report"]
    assert "$1,234.50" in first.content.decode()
    assert set(cache.get(f"report-charts:{report.version}")) >= {"issued", "revenue"}

    order_in_aggregates(a, "100.00")
    second = client.get(reverse("portals:dashboard"))

    assert second.context["report"].version != report.version
    assert "$1,334.50" in second.content.decode()


def test_the_command_refreshes_one_merchant_by_its_slug(pair):
    a, b = pair
    out = io.StringIO()

    call_command("refresh_report_snapshots", "--merchant", a.merchant.slug, stdout=out)

    periods = dashboard_periods(today=merchant_today(a.merchant))
    assert f"{len(periods)} snapshot(s) computed" in out.getvalue()
    assert ReportSnapshot.objects.filter(merchant=a.merchant).count() == len(periods)
    assert not ReportSnapshot.objects.filter(merchant=b.merchant).exists()
    with pytest.raises(CommandError):
        call_command("refresh_report_snapshots", "--merchant", "nobody")


def test_a_merchant_whose_periods_take_long_is_refreshed_less_often(pair):
    a, _ = pair
    aggregates.aggregates_update(now=timezone.now())
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=5), tick=True):
        snapshots_refresh(now=timezone.now())
        # As if each period had taken 20 s to compute: the six that hold today, 2 min.
        ReportSnapshot.objects.filter(merchant=a.merchant).update(took_ms=20_000)
        order_in_aggregates(a)
        touched = len(
            [p for p in dashboard_periods(today=merchant_today(a.merchant)) if p.end >= NOON.date()]
        )

        soon = snapshots_refresh(now=timezone.now() + datetime.timedelta(minutes=2))
        later = snapshots_refresh(now=timezone.now() + datetime.timedelta(minutes=7))

    assert soon.computed == 0
    assert later.computed == touched
