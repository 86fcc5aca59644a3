import datetime
from decimal import Decimal

from loyalty.reports import figures
from loyalty.reports.definitions import deferred_revenue_bases, definitions

D = datetime.date


def test_ratio_is_a_decimal_or_none():
    assert figures.ratio(1, 3) == Decimal("0.3333")
    assert figures.ratio(2, 3) == Decimal("0.6667")
    assert figures.ratio(5, 0) is None
    assert isinstance(figures.ratio(1, 2), Decimal)


def test_points_money_rounds_to_the_currencys_decimals():
    assert figures.points_money(333, Decimal("0.015"), "USD") == Decimal("5.00")
    assert figures.points_money(3, Decimal("0.5"), "JPY") == Decimal("2")
    assert figures.points_money(1, Decimal("0.0125"), "KWD") == Decimal("0.013")


def test_a_cohort_is_young_while_its_points_may_still_expire():
    # Lots earned in January with a one-month expiry are all past their date on 1 March.
    assert figures.cohort_is_young(D(2026, 1, 1), D(2026, 2, 27), "lot_age", 1)
    assert not figures.cohort_is_young(D(2026, 1, 1), D(2026, 2, 28), "lot_age", 1)
    assert figures.cohort_is_young(D(2026, 1, 1), D(2026, 6, 30), "inactivity", 6)
    assert not figures.cohort_is_young(D(2026, 1, 1), D(2026, 7, 31), "inactivity", 6)
    assert not figures.cohort_is_young(D(2026, 12, 1), D(2026, 12, 31), "never", None)


def _cohort(month, issued, expired, young):
    return figures.Cohort(
        month=month,
        issued=issued,
        redeemed=0,
        given_back=0,
        expired=expired,
        reversed=0,
        adjusted=0,
        young=young,
    )


def test_deferred_revenue_uses_mature_cohorts_only():
    cohorts = [_cohort(D(2026, 1, 1), 100, 25, False), _cohort(D(2026, 2, 1), 100, 90, True)]
    estimate = figures.deferred_revenue(
        liability=Decimal("10.00"), cohorts=cohorts, expiry_policy="lot_age", currency="USD"
    )
    assert estimate.basis == "mature"
    assert estimate.breakage_rate == Decimal("0.2500")
    assert estimate.amount == Decimal("7.50")
    assert estimate.cohorts == (D(2026, 1, 1),)


def test_deferred_revenue_without_mature_cohorts_says_what_it_used():
    young = [_cohort(D(2026, 2, 1), 200, 10, True)]
    estimate = figures.deferred_revenue(
        liability=Decimal("10.00"), cohorts=young, expiry_policy="lot_age", currency="USD"
    )
    assert (estimate.basis, estimate.breakage_rate, estimate.amount) == (
        "all_cohorts",
        Decimal("0.0500"),
        Decimal("9.50"),
    )
    never = figures.deferred_revenue(
        liability=Decimal("10.00"), cohorts=young, expiry_policy="never", currency="USD"
    )
    assert (never.basis, never.amount) == ("no_expiry", Decimal("10.00"))
    empty = figures.deferred_revenue(
        liability=Decimal(0), cohorts=[], expiry_policy="lot_age", currency="EUR"
    )
    assert (empty.basis, empty.amount) == ("no_points", Decimal("0.00"))
    assert set(deferred_revenue_bases) == {"mature", "all_cohorts", "no_expiry", "no_points"}


def test_tier_counts_start_everyone_without_a_tier():
    moves = {(None, 1): 5, (1, 2): 2, (2, None): 1}
    assert figures.tier_counts(members=9, moves=moves) == {None: 5, 1: 3, 2: 1}


def test_moves_up_and_down_compare_thresholds():
    thresholds = {1: Decimal(100), 2: Decimal(500)}
    moves = {(None, 1): 3, (1, 2): 2, (2, 1): 1, (2, None): 4}
    assert figures.moves_up_down(moves, thresholds) == (5, 5)


def test_order_figures_without_orders_have_no_averages():
    empty = figures.order_figures(
        members=0, repeat_members=0, orders=0, revenue=Decimal(0), currency="USD"
    )
    assert empty.average_order_value is None
    assert empty.repeat_purchase_rate is None


def test_every_figure_has_a_label_and_a_text():
    for key, definition in definitions.items():
        assert str(definition.label).strip(), key
        assert len(str(definition.how)) > 20, key
