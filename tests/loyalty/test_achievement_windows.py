"""What an achievement counts, and when (``loyalty.achievements.windows``): overall, the last
N days, and streaks of calendar weeks or months in the merchant's time zone, across a
change of summer time and a year boundary."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.achievements.windows import (
    Occurrence,
    Unit,
    Window,
    WindowKind,
    period,
    period_index,
    period_of,
    progress,
    streak_length,
)

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
SANTIAGO = zoneinfo.ZoneInfo("America/Santiago")  # clocks jump forward at midnight
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def at(tz, *parts) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=tz)


def test_a_week_runs_monday_to_monday_local_time_however_long_it_is():
    # Summer time starts in Paris on Sunday 29 March 2026: that week has 167 hours.
    week = period_of(at(PARIS, 2026, 3, 29, 12), Unit.WEEK, PARIS)
    assert week.start.astimezone(PARIS) == at(PARIS, 2026, 3, 23)
    assert week.end.astimezone(PARIS) == at(PARIS, 2026, 3, 30)
    assert week.end - week.start == datetime.timedelta(hours=167)
    # And ends on 25 October 2026: 169 hours.
    autumn = period_of(at(PARIS, 2026, 10, 25, 12), Unit.WEEK, PARIS)
    assert autumn.end - autumn.start == datetime.timedelta(hours=169)


def test_where_midnight_does_not_exist_the_day_starts_when_the_clocks_jump():
    week = period_of(at(SANTIAGO, 2024, 9, 10, 12), Unit.WEEK, SANTIAGO)
    assert week.start.astimezone(SANTIAGO) == at(SANTIAGO, 2024, 9, 9)
    month = period_of(at(SANTIAGO, 2024, 9, 8, 12), Unit.MONTH, SANTIAGO)
    assert month.start.astimezone(SANTIAGO) == at(SANTIAGO, 2024, 9, 1)
    # Sunday 8 September 2024 has no 00:00 in Santiago: its week began on the 2nd.
    week = period_of(at(SANTIAGO, 2024, 9, 8, 1, 30), Unit.WEEK, SANTIAGO)
    assert week.end == datetime.datetime(2024, 9, 9, 3, tzinfo=datetime.UTC)


def test_the_month_after_december_is_january_and_periods_follow_one_another():
    december = period_of(at(TOKYO, 2026, 12, 31, 23, 59), Unit.MONTH, TOKYO)
    january = period(december.index + 1, Unit.MONTH, TOKYO)
    assert december.end == january.start
    assert january.start.astimezone(TOKYO) == at(TOKYO, 2027, 1, 1)
    # The same moment is in different months in Tokyo and in UTC.
    moment = datetime.datetime(2026, 12, 31, 16, tzinfo=datetime.UTC)
    assert period_index(moment, Unit.MONTH, TOKYO) == january.index
    assert period_index(moment, Unit.MONTH, zoneinfo.ZoneInfo("UTC")) == december.index


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2060, 1, 1)),
    st.sampled_from([PARIS, SANTIAGO, TOKYO, zoneinfo.ZoneInfo("America/New_York")]),
    st.sampled_from(list(Unit)),
)
def test_every_moment_is_in_its_period_and_the_next_starts_where_it_ends(naive, tz, unit):
    moment = naive.replace(tzinfo=datetime.UTC)
    found = period_of(moment, unit, tz)
    assert found.start <= moment < found.end
    assert period(found.index + 1, unit, tz).start == found.end


def test_a_monthly_streak_across_the_new_year_and_its_deadline():
    orders = [at(PARIS, 2026, 11, 3), at(PARIS, 2026, 12, 24), at(PARIS, 2027, 1, 2)]
    window = Window(WindowKind.STREAK, unit=Unit.MONTH, length=3)
    done = progress(
        [Occurrence(o) for o in orders], window, Decimal(3), PARIS, at(PARIS, 2027, 1, 20)
    )
    assert (done.streak, done.complete) == (3, True)
    assert done.deadline.astimezone(PARIS) == at(PARIS, 2027, 2, 1)


def test_a_streak_is_alive_until_the_current_period_ends_then_breaks():
    orders = [at(PARIS, 2026, 10, 5), at(PARIS, 2026, 11, 5)]  # October, November
    in_december = streak_length(orders, Unit.MONTH, PARIS, at(PARIS, 2026, 12, 31, 23))
    assert in_december == 2  # December may still be filled
    in_january = streak_length(orders, Unit.MONTH, PARIS, at(PARIS, 2027, 1, 1, 0, 30))
    assert in_january == 0  # December went by empty: broken
    # A gap in the middle breaks the count too.
    gap = [at(PARIS, 2026, 9, 1), at(PARIS, 2026, 11, 1), at(PARIS, 2026, 12, 1)]
    assert streak_length(gap, Unit.MONTH, PARIS, at(PARIS, 2026, 12, 2)) == 2


def test_a_weekly_streak_across_the_change_to_summer_time():
    # Sunday 22 March 23:30 and Monday 23 March 00:30: two weeks, 1 hour apart.
    orders = [at(PARIS, 2026, 3, 22, 23, 30), at(PARIS, 2026, 3, 23, 0, 30)]
    orders.append(at(PARIS, 2026, 3, 30, 0, 15))  # the week after the change
    assert streak_length(orders, Unit.WEEK, PARIS, at(PARIS, 2026, 4, 1)) == 3
    # In UTC the first two are in the same week.
    utc = zoneinfo.ZoneInfo("UTC")
    assert streak_length(orders, Unit.WEEK, utc, at(PARIS, 2026, 4, 1)) == 2


def test_a_rolling_window_counts_the_last_n_days_and_says_when_the_oldest_drops_out():
    now = at(PARIS, 2026, 6, 30, 12)
    window = Window(WindowKind.ROLLING, days=30)
    orders = [
        Occurrence(now - datetime.timedelta(days=30)),  # exactly 30 days ago: out
        Occurrence(now - datetime.timedelta(days=29, hours=23)),
        Occurrence(now - datetime.timedelta(days=2)),
        Occurrence(now + datetime.timedelta(seconds=1)),  # not yet
    ]
    result = progress(orders, window, Decimal(3), PARIS, now)
    assert (result.current, result.complete) == (2, False)
    assert result.deadline == now + datetime.timedelta(hours=1)


def test_overall_sums_amounts_since_the_achievement_started():
    start = at(PARIS, 2026, 1, 1)
    spend = [
        Occurrence(at(PARIS, 2025, 12, 31, 23), Decimal("400")),  # before it started
        Occurrence(at(PARIS, 2026, 2, 1), Decimal("250.50")),
        Occurrence(at(PARIS, 2026, 5, 1), Decimal("249.50")),
    ]
    window = Window(WindowKind.OVERALL)
    result = progress(spend, window, Decimal(500), PARIS, at(PARIS, 2026, 6, 1), since=start)
    assert (result.current, result.complete, result.deadline) == (Decimal(500), True, None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": WindowKind.ROLLING},
        {"kind": WindowKind.ROLLING, "days": 0},
        {"kind": WindowKind.STREAK, "unit": Unit.WEEK},
        {"kind": WindowKind.STREAK, "length": 3},
    ],
)
def test_a_window_without_its_measure_is_refused(kwargs):
    with pytest.raises(ValueError, match="needs"):
        Window(**kwargs)


def test_naive_moments_are_refused():
    with pytest.raises(ValueError, match="aware"):
        period_index(datetime.datetime(2026, 1, 1), Unit.WEEK, PARIS)
