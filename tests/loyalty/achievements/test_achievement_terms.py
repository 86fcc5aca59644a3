"""What an achievement counts of what happened (``loyalty.achievements.terms``): pure."""

import datetime
import zoneinfo
from decimal import Decimal

from loyalty.achievements import windows
from loyalty.achievements.terms import (
    AchievementTerms,
    Happening,
    amount_counted,
    completion_period,
    counted_moments,
    streak_broken_at,
)

UTC = datetime.UTC
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NOW = datetime.datetime(2026, 12, 7, 12, tzinfo=UTC)


def terms(**fields) -> AchievementTerms:
    base = {
        "id": 1,
        "name": "A",
        "trigger": "order",
        "measure": "count",
        "goal": Decimal(3),
        "window": windows.Window(kind=windows.WindowKind.OVERALL),
        "repeat": "once",
    }
    return AchievementTerms(**{**base, **fields})


def order(total="50", at=NOW, skus=(), categories=(), points=50) -> Happening:
    return Happening(
        trigger="order",
        at=at,
        total=Decimal(total),
        points=points,
        skus=frozenset(skus),
        categories=frozenset(categories),
    )


def test_an_order_counts_one_for_how_many_its_total_for_spend_and_its_points_for_points():
    assert amount_counted(terms(), order(), frozenset()) == 1
    assert amount_counted(terms(measure="spend"), order("80.25"), frozenset()) == Decimal("80.25")
    assert amount_counted(terms(measure="points"), order(points=42), frozenset()) == 42


def test_an_order_of_no_points_is_no_occurrence_of_a_points_goal():
    assert amount_counted(terms(measure="points"), order(points=0), frozenset()) is None


def test_conditions_minimum_total_sku_category_and_segment_each_exclude():
    assert amount_counted(terms(min_order_total=Decimal(60)), order("59.99"), frozenset()) is None
    assert amount_counted(terms(min_order_total=Decimal(60)), order("60"), frozenset()) == 1
    assert amount_counted(terms(skus=frozenset({"MUG"})), order(skus={"TEA"}), frozenset()) is None
    assert amount_counted(terms(skus=frozenset({"MUG"})), order(skus={"MUG"}), frozenset()) == 1
    bakery = terms(categories=frozenset({"bakery"}))
    assert amount_counted(bakery, order(categories={"dairy"}), frozenset()) is None
    assert amount_counted(terms(segment_id=7), order(), frozenset({8})) is None
    assert amount_counted(terms(segment_id=7), order(), frozenset({7, 8})) == 1


def test_only_the_named_activity_and_only_within_the_active_dates_count():
    review = terms(trigger="activity", activity_kind="review")
    assert amount_counted(review, Happening(trigger="activity", at=NOW, kind="review"), frozenset())
    assert (
        amount_counted(review, Happening(trigger="activity", at=NOW, kind="follow"), frozenset())
        is None
    )
    assert amount_counted(review, order(), frozenset()) is None
    later = terms(starts_at=NOW + datetime.timedelta(seconds=1))
    assert amount_counted(later, order(), frozenset()) is None
    ended = terms(ends_at=NOW)
    assert amount_counted(ended, order(), frozenset()) is None


def test_completion_periods_are_ever_or_the_local_week_month_or_year():
    # Sunday 23:30 UTC is already Monday in Paris: the next week there.
    sunday_night = datetime.datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    assert completion_period(terms(), sunday_night, PARIS) == "ever"
    assert completion_period(terms(repeat="week"), sunday_night, PARIS) == "2026-12-07"
    assert completion_period(terms(repeat="month"), sunday_night, PARIS) == "2026-12-01"
    new_year = datetime.datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert completion_period(terms(repeat="year"), new_year, PARIS) == "2027-01-01"
    assert completion_period(terms(repeat="year"), new_year, UTC) == "2026-01-01"


def test_a_completion_consumes_what_the_window_counts_only():
    rolling = terms(window=windows.Window(kind=windows.WindowKind.ROLLING, days=30))
    old = NOW - datetime.timedelta(days=31)
    recent = NOW - datetime.timedelta(days=2)
    assert counted_moments(rolling, [old, recent, NOW], PARIS, NOW) == {recent, NOW}
    streak = terms(
        window=windows.Window(kind=windows.WindowKind.STREAK, unit=windows.Unit.MONTH, length=2)
    )
    august = datetime.datetime(2026, 8, 10, tzinfo=UTC)
    november = datetime.datetime(2026, 11, 10, tzinfo=UTC)
    december = datetime.datetime(2026, 12, 1, tzinfo=UTC)
    # August is no part of the streak of November and December.
    assert counted_moments(streak, [august, november, december], PARIS, NOW) == {
        november,
        december,
    }


def test_a_streak_is_broken_once_a_whole_period_passed_empty():
    october = datetime.datetime(2026, 10, 15, tzinfo=UTC)
    november = datetime.datetime(2026, 11, 15, tzinfo=UTC)
    # November filled, December (now) not yet: alive until December ends.
    assert streak_broken_at([october, november], windows.Unit.MONTH, PARIS, NOW) is None
    length, empty = streak_broken_at(
        [october, november], windows.Unit.MONTH, PARIS, datetime.datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert length == 2
    assert empty.start == datetime.datetime(2026, 11, 30, 23, tzinfo=UTC)  # December 1st, Paris
    assert streak_broken_at([], windows.Unit.WEEK, PARIS, NOW) is None
