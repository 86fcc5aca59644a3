import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.exceptions import DomainError
from fulfillment.adapters.sandbox import sandbox_reset
from fulfillment.services import interventions
from loyalty import jobs, ledger
from loyalty.exceptions import NoActiveProgram
from loyalty.models import PointLot, Tier
from loyalty.reports.aggregates import aggregates_as_of
from loyalty.reports.selectors import program_report, top_members
from tests.fulfillment.factories import redemption_pending, sandbox_offer
from tests.loyalty.factories import expire as expire_lots
from tests.loyalty.factories import (
    member_make,
    order_post,
    points_take,
    program_merchant,
    refund_post,
    release_due,
)
from tests.loyalty.reports.builders import TEST, adjust, at, earn, run_job, spend
from tests.merchants.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def today_report(merchant, **period):
    run_job()
    today = timezone.localdate(timezone=merchant.timezone)
    return program_report(
        merchant=merchant, start=period.get("start", today), end=period.get("end", today)
    )


def test_refund_after_a_spend_reverses_only_what_is_left():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    order = order_post(merchant, member, "100.00").obj
    points_take(member, 80)
    refund_post(merchant, order.external_id, "100.00")

    report = today_report(merchant)
    assert report.points_issued == 100
    assert report.points_redeemed == 80
    assert report.points_reversed == 20  # the other 80 were spent: the shortfall
    assert (report.points_spendable, report.points_pending) == (0, 0)
    assert report.liability_points == 0
    assert report.liability_money == Decimal("0.00")
    assert report.redemption_rate == Decimal("0.8000")
    assert (report.orders.orders, report.orders.revenue) == (1, Decimal("100.00"))
    assert (report.refunds, report.refunded) == (1, Decimal("100.00"))
    assert report.currency == "USD"
    assert report.points_name == "Stars"


def test_points_expiring_across_a_month_end_count_in_their_local_issue_month():
    merchant, _ = program_merchant(expiry_policy="lot_age", expiry_months=1)
    merchant.timezone = "Europe/Paris"
    merchant.save()
    member = member_make(merchant)
    # 23:30 in Paris on 31 January, and 00:30 on 1 February (both 31 January in UTC).
    january = earn(member, 50, at("2026-01-31", 22, 30))
    earn(member, 20, at("2026-01-31", 23, 30))
    spend(member, 30, at("2026-02-10", 12, tz="Europe/Paris"))  # from January's lot
    expire_lots(member, [january.lot.pk], now=at("2026-03-01", 2, tz="Europe/Paris"))

    march = today_report(merchant, start=datetime.date(2026, 3, 1), end=datetime.date(2026, 3, 1))
    assert march.points_expired == 20
    jan, feb = march.cohorts
    assert (jan.month, jan.issued, jan.redeemed, jan.expired) == (
        datetime.date(2026, 1, 1),
        50,
        30,
        20,
    )
    assert jan.breakage == Decimal("0.4000")
    assert not jan.young  # every January lot is past its date
    assert (feb.month, feb.issued, feb.expired, feb.outstanding) == (
        datetime.date(2026, 2, 1),
        20,
        0,
        20,
    )
    assert feb.young
    # Deferred revenue: 20 points outstanding (0.20 USD), less January's 40 % breakage.
    deferred = march.deferred_revenue
    assert march.liability_money == Decimal("0.20")
    assert deferred.basis == "mature"
    assert deferred.cohorts == (datetime.date(2026, 1, 1),)
    assert (deferred.issued, deferred.expired) == (50, 20)
    assert deferred.breakage_rate == Decimal("0.4000")
    assert deferred.amount == Decimal("0.12")

    january_report = program_report(
        merchant=merchant, start=datetime.date(2026, 1, 1), end=datetime.date(2026, 1, 31)
    )
    assert january_report.points_issued == 50
    assert [c.month for c in january_report.cohorts] == [datetime.date(2026, 1, 1)]
    assert january_report.deferred_revenue.basis == "all_cohorts"
    assert january_report.deferred_revenue.amount == Decimal("0.50")


def test_staff_adjustments_and_goodwill_are_counted_apart():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    now = timezone.now()
    adjust(member, 50, now)
    adjust(member, 20, now, source="ticket")
    adjust(member, -10, now)

    report = today_report(merchant)
    assert report.points_adjusted_staff == 40
    assert report.points_adjusted_goodwill == 20
    assert report.points_issued == 0
    assert report.points_spendable == 60
    assert report.redemption_rate is None  # nothing issued: no ratio


def test_a_redemption_refunded_by_fulfillment_is_given_back_not_redeemed():
    merchant, _ = program_merchant()
    member = member_make(merchant, points=100)
    failed = points_take(member, 30)
    ledger.points_refund_spend(
        spend_entry=failed, reason="supplier failed", at=timezone.now(), actor=TEST
    )
    points_take(member, 20)

    report = today_report(merchant)
    assert report.points_redeemed == 20
    assert report.points_given_back == 30
    assert report.points_spendable == 80
    (cohort,) = report.cohorts
    assert (cohort.redeemed, cohort.given_back, cohort.redeemed_net) == (50, 30, 20)
    assert cohort.outstanding == 80


def test_a_member_who_only_ordered_is_active():
    merchant, _ = program_merchant()
    buyer = member_make(merchant)
    member_make(merchant)  # joined, did nothing
    order_post(merchant, buyer, "0.00")  # earns nothing

    report = today_report(merchant)
    assert report.points_issued == 0
    assert report.members_active == 1
    assert (report.members_new, report.members_total) == (2, 2)
    assert report.orders.orders == 1


def test_pending_points_count_in_the_liability_until_released():
    merchant, _ = program_merchant(pending_days=30)
    member = member_make(merchant)
    order_post(merchant, member, "40.00")
    report = today_report(merchant)
    assert (report.points_issued, report.points_pending, report.points_spendable) == (40, 40, 0)
    assert report.liability_points == 40
    assert report.liability_money == Decimal("0.40")

    later = timezone.now() + datetime.timedelta(days=31)
    release_due(member, now=later)
    run_job()
    today = timezone.localdate()
    after = program_report(merchant=merchant, start=today, end=later.date())
    assert after.points_released == 40
    assert (after.points_pending, after.points_spendable) == (0, 40)
    assert after.liability_points == 40


def test_members_by_tier_at_the_end_and_moves_up_and_down():
    merchant, program = program_merchant(tiers_enabled=True)
    silver = Tier.objects.create(program=program, name="Silver", threshold=100)
    gold = Tier.objects.create(program=program, name="Gold", threshold=500)
    a, b = member_make(merchant), member_make(merchant)
    member_make(merchant)
    order_post(merchant, a, "150.00")
    order_post(merchant, b, "600.00")

    report = today_report(merchant)
    tiers = {(row.tier_id, row.name): row.members for row in report.members_by_tier}
    assert tiers == {(None, ""): 1, (silver.pk, "Silver"): 1, (gold.pk, "Gold"): 1}
    assert (report.tier_moves_up, report.tier_moves_down) == (2, 0)

    # Once the window has passed, the scheduled recomputation moves both down.
    jobs.recompute_tiers(now=timezone.now() + datetime.timedelta(days=400))
    after = today_report(merchant)  # the tier changes are written now
    assert (after.tier_moves_up, after.tier_moves_down) == (2, 2)
    assert {row.name: row.members for row in after.members_by_tier} == {
        "": 3,
        "Silver": 0,
        "Gold": 0,
    }


def test_orders_split_by_members_who_redeemed_and_who_did_not():
    merchant, _ = program_merchant()
    redeemer, buyer, saver = (member_make(merchant) for _ in range(3))
    order_post(merchant, redeemer, "10.00")
    order_post(merchant, redeemer, "30.00")
    points_take(redeemer, 5)
    order_post(merchant, buyer, "25.00")
    adjust(saver, 10, timezone.now())
    points_take(saver, 10)  # redeemed, never ordered

    report = today_report(merchant)
    everyone = report.orders
    assert (everyone.members, everyone.repeat_members, everyone.orders) == (2, 1, 3)
    assert everyone.revenue == Decimal("65.00")
    assert everyone.average_order_value == Decimal("21.67")
    assert everyone.repeat_purchase_rate == Decimal("0.5000")
    redeemers = report.orders_redeemers
    assert (redeemers.members, redeemers.orders, redeemers.revenue) == (1, 2, Decimal("40.00"))
    assert redeemers.average_order_value == Decimal("20.00")
    assert redeemers.repeat_purchase_rate == Decimal("1.0000")
    others = report.orders_non_redeemers
    assert (others.members, others.orders, others.revenue) == (1, 1, Decimal("25.00"))
    assert others.repeat_purchase_rate == Decimal("0.0000")
    assert report.members_active == 3


def test_another_merchants_rows_are_never_counted():
    merchant, _ = program_merchant()
    other, _ = program_merchant()
    mine = member_make(merchant)
    order_post(merchant, mine, "10.00")
    theirs = member_make(other, points=500)
    order_post(other, theirs, "900.00")
    points_take(theirs, 300)

    report = today_report(merchant)
    assert (report.members_total, report.members_active) == (1, 1)
    assert report.points_issued == 10
    assert report.points_redeemed == 0
    assert report.points_adjusted_staff == 0
    assert report.orders.revenue == Decimal("10.00")
    assert report.liability_points == 10
    today = timezone.localdate()
    ranked = top_members(merchant=merchant, start=today, end=today, by="points")
    assert [row.member_id for row in ranked] == [mine.pk]


def test_the_daily_series_has_a_row_a_day():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    earn(member, 5, at("2026-11-02", 9))
    earn(member, 7, at("2026-11-04", 9))
    spend(member, 3, at("2026-11-04", 10))
    report = today_report(
        merchant, start=datetime.date(2026, 11, 1), end=datetime.date(2026, 11, 5)
    )
    assert [(d.day.day, d.issued, d.redeemed) for d in report.daily] == [
        (1, 0, 0),
        (2, 5, 0),
        (3, 0, 0),
        (4, 7, 3),
        (5, 0, 0),
    ]
    assert report.points_spendable == 9


def test_the_report_says_as_of_when():
    merchant, _ = program_merchant()
    report = today_report(merchant)
    assert report.as_of is not None
    assert report.as_of == aggregates_as_of()


def test_top_members_by_points_and_by_orders():
    merchant, _ = program_merchant()
    big, small, idle = (member_make(merchant, first_name=n) for n in ("Ann", "Bo", "Cy"))
    order_post(merchant, big, "90.00")
    order_post(merchant, small, "10.00")
    order_post(merchant, small, "15.00")
    run_job()
    today = timezone.localdate()

    by_points = top_members(merchant=merchant, start=today, end=today, by="points")
    assert [(row.name, row.value) for row in by_points] == [("Ann", 90), ("Bo", 25)]
    by_orders = top_members(merchant=merchant, start=today, end=today, by="orders", limit=1)
    assert [(row.external_id, row.value) for row in by_orders] == [(small.external_id, 2)]
    assert idle.pk not in {row.member_id for row in by_points}


def test_top_members_rank_first_then_read_the_winners_names(django_assert_num_queries):
    merchant, _ = program_merchant()
    members = [member_make(merchant, first_name=f"M{n}") for n in range(5)]
    for n, member in enumerate(members):
        order_post(merchant, member, f"{10 * (n % 3 + 1)}.00")
    run_job()
    today = timezone.localdate()

    with django_assert_num_queries(2):
        ranked = top_members(merchant=merchant, start=today, end=today, by="points", limit=3)

    # 10, 20, 30, 10, 20 points: equal values are ranked by member id.
    assert [(row.member_id, row.name, row.value) for row in ranked] == [
        (members[2].pk, "M2", 30),
        (members[1].pk, "M1", 20),
        (members[4].pk, "M4", 20),
    ]


def test_the_report_ranks_top_members_in_its_member_pass(django_assert_max_num_queries):
    merchant, _ = program_merchant()
    other, _ = program_merchant()
    members = [member_make(merchant, first_name=f"M{n}") for n in range(5)]
    for n, member in enumerate(members):
        order_post(merchant, member, f"{10 * (n % 3 + 1)}.00")
    order_post(merchant, members[0], "5.00")
    order_post(other, member_make(other), "900.00")
    run_job()
    today = timezone.localdate()

    with django_assert_max_num_queries(12):
        report = program_report(merchant=merchant, start=today, end=today, top=2)

    assert [(row.name, row.value) for row in report.top_by_points] == [("M2", 30), ("M1", 20)]
    assert [(row.member_id, row.value) for row in report.top_by_orders] == [
        (members[0].pk, 2),
        (members[1].pk, 1),
    ]
    for by, ranked in (("points", report.top_by_points), ("orders", report.top_by_orders)):
        assert list(ranked) == top_members(
            merchant=merchant, start=today, end=today, by=by, limit=2
        )
    assert program_report(merchant=merchant, start=today, end=today).top_by_points == ()


@pytest.mark.parametrize("top", [-1, 101, "3", 2.0])
def test_the_report_refuses_a_bad_top(top):
    merchant, _ = program_merchant()
    today = timezone.localdate()
    with pytest.raises(DomainError) as refused:
        program_report(merchant=merchant, start=today, end=today, top=top)
    assert refused.value.field == "top"


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (datetime.date(2026, 2, 1), datetime.date(2026, 1, 1), "end"),
        (datetime.date(2020, 1, 1), datetime.date(2026, 1, 1), "end"),
        ("2026-01-01", datetime.date(2026, 1, 1), "start"),
    ],
)
def test_a_bad_period_is_refused(start, end, field):
    merchant, _ = program_merchant()
    with pytest.raises(DomainError) as refused:
        program_report(merchant=merchant, start=start, end=end)
    assert refused.value.field == field


@pytest.mark.parametrize(("by", "limit", "field"), [("revenue", 10, "by"), ("points", 0, "limit")])
def test_top_members_refuses_bad_input(by, limit, field):
    merchant, _ = program_merchant()
    today = timezone.localdate()
    with pytest.raises(DomainError) as refused:
        top_members(merchant=merchant, start=today, end=today, by=by, limit=limit)
    assert refused.value.field == field


def test_a_merchant_without_a_program_has_no_report():
    merchant = MerchantFactory(live=True)
    today = timezone.localdate()
    with pytest.raises(NoActiveProgram):
        program_report(merchant=merchant, start=today, end=today)


def _queries(merchant, start, end) -> int:
    with CaptureQueriesContext(connection) as captured:
        program_report(merchant=merchant, start=start, end=end)
    return len(captured)


def test_the_report_takes_a_fixed_number_of_queries(django_assert_max_num_queries):
    merchant, program = program_merchant(
        tiers_enabled=True, expiry_policy="lot_age", expiry_months=6
    )
    Tier.objects.create(program=program, name="Silver", threshold=50)
    start, end = datetime.date(2026, 1, 1), timezone.localdate()
    member = member_make(merchant)
    order_post(merchant, member, "60.00")
    run_job()
    # The member days are read once (the distinct-member figures in one pass).
    with django_assert_max_num_queries(11):
        program_report(merchant=merchant, start=start, end=end)
    few = _queries(merchant, start, end)

    for n in range(6):
        other = member_make(merchant, country="FR")
        earn(other, 10 + n, at(datetime.date(2026, 1 + n, 10)))
        spend(other, 5, at(datetime.date(2026, 1 + n, 12)))
        order_post(merchant, other, f"{70 + n}.00")
    lots = PointLot.objects.filter(merchant=merchant, remaining__gt=0, released_at__isnull=False)
    expire_lots(other, list(lots.filter(member=other).values_list("pk", flat=True)))
    run_job()
    assert _queries(merchant, start, end) == few


def test_a_redemption_cancelled_in_fulfillment_gives_its_points_back():
    sandbox_reset()
    merchant, _ = program_merchant()
    member = member_make(merchant, points=6000, country="US")
    offer = sandbox_offer(merchant)
    cancelled = redemption_pending(merchant, member, offer)
    interventions.redemption_cancel(redemption=cancelled, reason="member asked", actor=TEST)
    redemption_pending(merchant, member, offer)
    sandbox_reset()

    report = today_report(merchant)
    assert report.points_redeemed == 2500  # 25 USD at 0.01 a point, once
    assert report.points_given_back == 2500
    assert report.points_spendable == 3500
    assert report.redemption_rate is None  # nothing earned: a staff credit is no issue
    assert report.members_active == 1
