import datetime

import pytest
from django.http import QueryDict

from portals.periods import MAX_DAYS, Period, period_from_query, preset_period

TODAY = datetime.date(2026, 3, 15)
D = datetime.date


def test_no_parameters_give_the_last_30_days_without_errors():
    period, errors = period_from_query({}, today=TODAY)
    assert (period.start, period.end, period.preset) == (D(2026, 2, 14), TODAY, "last_30")
    assert period.days == 30
    assert errors == []


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("last_7", D(2026, 3, 9), TODAY),
        ("last_90", D(2025, 12, 16), TODAY),
        ("this_month", D(2026, 3, 1), TODAY),
        ("last_month", D(2026, 2, 1), D(2026, 2, 28)),
        ("this_year", D(2026, 1, 1), TODAY),
    ],
)
def test_presets_end_today_or_cover_whole_months(preset, start, end):
    period, errors = period_from_query({"period": preset}, today=TODAY)
    assert (period.start, period.end, period.preset) == (start, end, preset)
    assert errors == []


def test_last_month_in_january_is_december_of_the_year_before():
    period = preset_period("last_month", today=D(2026, 1, 1))
    assert (period.start, period.end) == (D(2025, 12, 1), D(2025, 12, 31))


def test_this_month_on_its_first_day_is_one_day():
    assert preset_period("this_month", today=D(2026, 3, 1)).days == 1


def test_custom_range_is_read_with_both_ends_included():
    period, errors = period_from_query(
        {"period": "custom", "start": "2026-03-01", "end": "2026-03-07"}, today=TODAY
    )
    assert errors == []
    assert (period.start, period.end, period.days, period.preset) == (
        D(2026, 3, 1),
        D(2026, 3, 7),
        7,
        "custom",
    )
    assert period.query() == {"period": "custom", "start": "2026-03-01", "end": "2026-03-07"}


def test_dates_without_a_preset_mean_a_custom_range():
    period, errors = period_from_query({"start": "2026-03-01", "end": "2026-03-02"}, today=TODAY)
    assert errors == []
    assert (period.preset, period.days) == ("custom", 2)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"period": "last_9000"}, "listed periods"),
        ({"period": "<script>"}, "listed periods"),
        ({"period": "custom", "start": "2026-02-30", "end": "2026-03-01"}, "first day"),
        ({"period": "custom", "start": "yesterday", "end": "2026-03-01"}, "first day"),
        ({"period": "custom", "start": "2026-03-01"}, "last day"),
        ({"period": "custom", "start": "2026-03-10", "end": "2026-03-01"}, "comes before"),
        ({"period": "custom", "start": "2026-03-10", "end": "2026-03-16"}, "future"),
        ({"period": "custom", "start": "2019-01-01", "end": "2026-03-01"}, "five years"),
        ({"period": "custom", "start": "1999-12-31", "end": "2000-01-02"}, "2000 or later"),
        ({"period": "custom", "start": "99999-01-01", "end": "2026-03-01"}, "first day"),
    ],
)
def test_bad_parameters_give_the_default_and_say_why(params, words):
    period, errors = period_from_query(params, today=TODAY)
    assert (period.preset, period.end, period.days) == ("last_30", TODAY, 30)
    assert errors
    assert any(words in error for error in errors), errors


def test_a_range_of_exactly_five_years_is_accepted_and_one_day_more_is_not():
    end = TODAY
    start = end - datetime.timedelta(days=MAX_DAYS - 1)
    period, errors = period_from_query(
        {"start": start.isoformat(), "end": end.isoformat()}, today=TODAY
    )
    assert errors == []
    assert period.days == MAX_DAYS
    _, errors = period_from_query(
        {"start": (start - datetime.timedelta(days=1)).isoformat(), "end": end.isoformat()},
        today=TODAY,
    )
    assert errors


def test_a_list_valued_mapping_uses_the_last_value():
    period, errors = period_from_query({"period": ["last_90", "last_7"]}, today=TODAY)
    assert (period.preset, errors) == ("last_7", [])


def test_previous_period_has_the_same_length_and_ends_the_day_before():
    period = Period(D(2026, 3, 1), D(2026, 3, 31), "this_month")
    previous = period.previous()
    assert (previous.start, previous.end, previous.days) == (D(2026, 1, 29), D(2026, 2, 28), 31)


def test_a_period_cannot_end_before_it_starts():
    with pytest.raises(ValueError, match="ends on or after"):
        Period(D(2026, 3, 2), D(2026, 3, 1))


def test_labels_name_the_preset_or_the_dates():
    assert preset_period("last_7", today=TODAY).label == "Last 7 days"
    custom = Period(D(2026, 3, 3), D(2026, 3, 9))
    assert custom.label == "Mar 3\u2009\u2013\u20099, 2026"
    assert preset_period("last_7", today=TODAY).range_label.endswith("2026")


def test_dates_lists_every_day_in_order():
    days = Period(D(2026, 2, 27), D(2026, 3, 2)).dates()
    assert days == [D(2026, 2, 27), D(2026, 2, 28), D(2026, 3, 1), D(2026, 3, 2)]


def test_a_query_dict_from_a_request_is_read():
    params = QueryDict("period=custom&start=2026-03-01&end=2026-03-10&start=2026-03-05")
    period, errors = period_from_query(params, today=TODAY)
    assert errors == []
    assert (period.start, period.end) == (D(2026, 3, 5), D(2026, 3, 10))
