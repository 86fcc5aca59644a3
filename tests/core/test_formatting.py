import datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from core import formatting
from fulfillment.reports import Amount
from portals import report_changes

NBSP, NNBSP, MINUS = "\xa0", "\u202f", "\u2212"


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        (Decimal("387"), "USD", "en", "$387.00"),
        (Decimal("387.0000"), "EUR", "fr", f"387,00{NBSP}€"),
        (Decimal("1200"), "JPY", "en", "¥1,200"),
        (Decimal("1200.5"), "JPY", "en", "¥1,201"),  # half-up, as core.money rounds
        (Decimal("0.005"), "EUR", "en", "€0.01"),
        (Decimal("1234567.891"), "USD", "en", "$1,234,567.89"),
        (Decimal("-12.50"), "EUR", "en", "-€12.50"),
        (Decimal("1.2345"), "KWD", "en", "KWD1.235"),
    ],
)
def test_money_has_the_currency_s_own_decimals_in_the_reader_s_locale(
    amount, currency, locale, text
):
    assert formatting.money(amount, currency, locale=locale) == text


def test_money_refuses_a_float_and_writes_a_dash_for_none():
    with pytest.raises(TypeError):
        formatting.money(387.0, "USD", locale="en")
    assert formatting.money(None, "USD") == "—"


def test_money_follows_the_active_language_without_a_locale():
    with translation.override("fr"):
        assert formatting.money(Decimal("387"), "EUR") == f"387,00{NBSP}€"
    with translation.override("en"):
        assert formatting.money(Decimal("387"), "EUR") == "€387.00"


def test_an_unknown_locale_falls_back_to_english():
    assert formatting.points(1000, locale="xx-nowhere") == "1,000"


def test_amounts_in_several_currencies_are_listed_never_added():
    values = [Amount(Decimal("77.5"), "USD"), Amount(Decimal("25"), "GBP")]
    assert formatting.amounts(values, locale="en") == "$77.50 · £25.00"
    assert formatting.amounts([], locale="en") == "—"


def test_points_have_thousands_separators():
    assert formatting.points(1234567, locale="en") == "1,234,567"
    assert formatting.points(1234567, locale="fr") == f"1{NNBSP}234{NNBSP}567"
    assert formatting.points(-500, locale="en") == "-500"
    assert formatting.points(None) == "—"


def test_percent_has_one_decimal():
    assert formatting.percent(Decimal("0.125"), locale="en") == "12.5%"
    assert formatting.percent(Decimal("0.125"), locale="fr") == f"12,5{NBSP}%"
    assert formatting.percent(Decimal("1"), locale="en") == "100.0%"
    assert formatting.percent(Decimal("0"), locale="en") == "0.0%"
    assert formatting.percent(None) == "—"


def test_short_percent_drops_a_zero_decimal():
    assert formatting.percent_short(Decimal("0.1"), locale="en") == "10%"
    assert formatting.percent_short(Decimal("0.125"), locale="en") == "12.5%"
    assert formatting.percent_short(None) == "—"


@pytest.mark.parametrize(
    ("current", "previous", "text", "direction"),
    [
        (1125, 1000, "+12.5%", "up"),
        (97, 100, f"{MINUS}3%", "down"),
        (Decimal("50.00"), Decimal("100.00"), f"{MINUS}50%", "down"),
        (5, 0, "new", "new"),
        (0, 0, "0%", "flat"),
        (100, 100, "0%", "flat"),
        (None, 100, "—", "none"),
        (100, None, "—", "none"),
        (300, 100, "+200%", "up"),
        (-50, -100, "+50%", "up"),
    ],
)
def test_change_against_the_previous_period(current, previous, text, direction):
    assert report_changes.change(current, previous, locale="en") == text
    assert formatting.change_direction(current, previous) == direction


def test_change_ratio_is_exact():
    assert formatting.change_ratio(1125, 1000) == Decimal("0.125")
    assert formatting.change_ratio(1, 0) is None


def test_dates_and_ranges():
    assert formatting.date(datetime.date(2026, 3, 3), locale="en") == "Mar 3, 2026"
    assert formatting.date(datetime.datetime(2026, 3, 3, 23, 0), locale="en") == "Mar 3, 2026"
    assert formatting.day(datetime.date(2026, 3, 3), locale="fr") == "3 mars"
    assert formatting.month(datetime.date(2026, 3, 1), locale="en") == "Mar 2026"
    same_month = formatting.date_range(
        datetime.date(2026, 3, 3), datetime.date(2026, 3, 9), locale="en"
    )
    assert same_month == "Mar 3\u2009\u2013\u20099, 2026"
    across_years = formatting.date_range(
        datetime.date(2025, 12, 30), datetime.date(2026, 1, 2), locale="en"
    )
    assert "2025" in across_years
    assert "2026" in across_years
    one_day = formatting.date_range(
        datetime.date(2026, 3, 3), datetime.date(2026, 3, 3), locale="en"
    )
    assert one_day == "Mar 3, 2026"
    assert formatting.date(None) == formatting.date_range(None, None) == "—"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime.timedelta(hours=3, minutes=15, seconds=4), "3 hr 15 min"),
        (datetime.timedelta(days=2, hours=4, minutes=5), "2 days 4 hr"),
        (datetime.timedelta(days=2, minutes=5), "2 days"),
        (datetime.timedelta(seconds=45), "45 sec"),
        (datetime.timedelta(0), "0 sec"),
        (None, "—"),
    ],
)
def test_durations_keep_their_two_largest_units(value, text):
    assert formatting.duration(value, locale="en") == text


def test_template_filters_write_the_same_as_the_functions():
    template = Template(
        "{% load report_format %}{{ amount|money:'EUR' }}|{{ n|points }}|{{ r|percent }}|"
        "{{ n|change:before }}|{{ n|change_direction:before }}|{{ day|human_date }}|"
        "{{ day|date_range:day }}|{{ wait|duration }}|{{ missing|percent }}"
    )
    with translation.override("en"):
        text = template.render(
            Context(
                {
                    "amount": Decimal("499.0000"),
                    "n": 1125,
                    "before": 1000,
                    "r": Decimal("0.5"),
                    "day": datetime.date(2026, 3, 3),
                    "wait": datetime.timedelta(minutes=90),
                    "missing": None,
                }
            )
        )
    assert text == ("€499.00|1,125|50.0%|+12.5%|up|Mar 3, 2026|Mar 3, 2026|1 hr 30 min|—")


@pytest.mark.parametrize("locale", ["en", "fr", "de", "de-ch", "pt-br", "hi", "ar", "xx-nowhere"])
def test_points_write_what_babel_writes_for_the_pattern(locale):
    from babel.numbers import format_decimal

    for value in (0, 7, -7, 999, 1000, -1234, 987654321, -(10**12)):
        assert formatting.points(value, locale=locale) == format_decimal(
            value, format="#,##0", locale=formatting.reader_locale(locale)
        )
