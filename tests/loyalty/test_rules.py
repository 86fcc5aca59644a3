"""Earning-rule evaluation (loyalty.rules): pure functions, no database."""

import datetime
import math
import re
import zoneinfo
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.money import round_points
from loyalty.rules import (
    ActivityFacts,
    Evaluation,
    Line,
    MemberFacts,
    OrderFacts,
    Part,
    ProgramTerms,
    RuleTerms,
    cap_period_start,
    evaluate_activity,
    evaluate_order,
)

UTC = datetime.UTC
NOW = datetime.datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
MICROSECOND = datetime.timedelta(microseconds=1)
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")

PROPERTY = settings(max_examples=50, deadline=None)


def program(rate: str = "1", rounding: str = "down") -> ProgramTerms:
    return ProgramTerms(base_earn_rate=Decimal(rate), rounding=rounding)


def line(sku: str, category: str, price: str, quantity: int = 1) -> Line:
    return Line(sku=sku, category=category, quantity=quantity, unit_price=Decimal(price))


def order(
    total: str | Decimal,
    *lines: Line,
    at: datetime.datetime = NOW,
    store_id: int | None = None,
) -> OrderFacts:
    return OrderFacts(total=Decimal(total), placed_at=at, lines=lines, store_id=store_id)


def rule(id: int = 1, kind: str = "purchase_rate", **terms) -> RuleTerms:
    terms.setdefault("name", f"Rule {id}")
    if kind == "purchase_rate":
        terms.setdefault("points_per_unit", Decimal(1))
    elif kind == "purchase_multiplier":
        terms.setdefault("multiplier", Decimal(2))
    else:
        terms.setdefault("bonus_points", 100)
    return RuleTerms(id=id, kind=kind, **terms)


def earn(
    total: str | Decimal = "100.00",
    *rules: RuleTerms,
    lines: tuple[Line, ...] = (),
    terms: ProgramTerms | None = None,
    member: MemberFacts | None = None,
    at: datetime.datetime = NOW,
    store_id: int | None = None,
) -> Evaluation:
    return evaluate_order(
        program=terms or program(),
        rules=rules,
        member=member or MemberFacts(),
        order=order(total, *lines, at=at, store_id=store_id),
    )


def activity(
    kind: str,
    *rules: RuleTerms,
    member: MemberFacts | None = None,
    at: datetime.datetime = NOW,
    terms: ProgramTerms | None = None,
) -> Evaluation:
    return evaluate_activity(
        program=terms or program(),
        rules=rules,
        member=member or MemberFacts(),
        activity=ActivityFacts(kind=kind, occurred_at=at),
    )


def is_tier_label(label: str, tier_name: str, multiplier: str) -> bool:
    """The tier part's label names the tier and its multiplier in plain digits (after a
    multiplication sign or an "x")."""
    pattern = rf"Tier {re.escape(tier_name)} [\u00d7x]{re.escape(multiplier)}"
    return re.fullmatch(pattern, label) is not None


def parts_by_rule(evaluation: Evaluation) -> dict[int | None, Decimal]:
    return {part.rule_id: part.points for part in evaluation.parts}


# Base earning


@pytest.mark.parametrize(
    ("rate", "total", "down", "half_up"),
    [
        ("1", "12.34", 12, 12),
        ("1", "12.50", 12, 13),
        ("1", "12.49", 12, 12),
        ("1.0000", "0.99", 0, 1),
        ("0.5", "25.00", 12, 13),
        ("2.5", "10.10", 25, 25),
        ("0.0100", "99.99", 0, 1),
        ("0.0100", "150.00", 1, 2),
        ("3", "1999.99", 5999, 6000),
    ],
)
def test_base_points_are_rate_times_total_rounded_by_the_program_rule(rate, total, down, half_up):
    assert earn(total, terms=program(rate, "down")).points == down
    assert earn(total, terms=program(rate, "half_up")).points == half_up


@pytest.mark.parametrize("total", ["0", "0.00", "-0.01", "-100.00"])
def test_zero_or_negative_total_earns_nothing_even_with_bonuses_and_a_tier(total):
    evaluation = earn(
        total,
        rule(1, "purchase_bonus", bonus_points=500),
        rule(2, "purchase_rate", points_per_unit=Decimal(5)),
        member=MemberFacts(tier_name="Gold", tier_multiplier=Decimal("2")),
    )

    assert evaluation.points == 0
    assert evaluation.parts == ()
    assert evaluation.explanation() == []


@pytest.mark.parametrize("rounding", ["down", "half_up"])
def test_points_are_a_plain_int_and_parts_are_decimal(rounding):
    evaluation = earn("10.75", rule(1), terms=program("1.5", rounding))

    assert type(evaluation.points) is int
    assert all(isinstance(part.points, Decimal) for part in evaluation.parts)


def test_base_part_is_listed_first_without_a_rule_id():
    evaluation = earn("40.00", terms=program("1.2500"))

    assert evaluation.parts == (
        Part(rule_id=None, label="Base 1.25 per unit", points=Decimal("50.00")),
    )
    assert evaluation.rule_ids == ()
    assert evaluation.points == 50


def test_zero_base_rate_has_no_base_part_and_earns_only_from_rules():
    evaluation = earn("40.00", rule(7, "purchase_bonus", bonus_points=25), terms=program("0"))

    assert [part.rule_id for part in evaluation.parts] == [7]
    assert evaluation.points == 25


def test_base_part_label_writes_a_round_rate_in_plain_digits():
    evaluation = earn("5.00", terms=program("10.0000"))

    assert evaluation.parts[0].label == "Base 10 per unit"


# purchase_rate and line filters

SHOE = line("SHOE-1", "shoes", "40.00")
SALE_SHOE = line("SHOE-SALE", "shoes", "20.00")
SOCKS = line("SOCK-1", "socks", "5.00", quantity=2)
GIFT_CARD = line("GC-50", "gift_cards", "30.00")
BASKET = (SHOE, SALE_SHOE, SOCKS, GIFT_CARD)  # 40 + 20 + 10 + 30 = 100


@pytest.mark.parametrize(
    ("filters", "matched"),
    [
        ({"include_skus": ("SHOE-1",)}, "40.00"),
        ({"include_skus": ("SHOE-1", "SOCK-1")}, "50.00"),
        ({"exclude_skus": ("GC-50",)}, "70.00"),
        ({"include_categories": ("shoes",)}, "60.00"),
        ({"include_categories": ("socks",)}, "10.00"),
        ({"exclude_categories": ("gift_cards",)}, "70.00"),
        ({"exclude_categories": ("gift_cards", "shoes")}, "10.00"),
        ({"include_categories": ("shoes",), "exclude_skus": ("SHOE-SALE",)}, "40.00"),
        ({"include_skus": ("SHOE-1", "GC-50"), "exclude_categories": ("gift_cards",)}, "40.00"),
        ({"include_skus": ("SOCK-1",), "include_categories": ("shoes",)}, "0"),
    ],
)
def test_purchase_rate_earns_per_unit_on_matching_lines_only(filters, matched):
    evaluation = earn(
        "100.00",
        rule(3, "purchase_rate", points_per_unit=Decimal("2"), **filters),
        lines=BASKET,
        terms=program("0"),
    )

    assert evaluation.points == round_points(Decimal(2) * Decimal(matched), "down")


def test_line_amount_is_quantity_times_unit_price():
    evaluation = earn(
        "30.00",
        rule(3, include_skus=("SOCK-1",)),
        lines=(line("SOCK-1", "socks", "7.50", quantity=4),),
        terms=program("0"),
    )

    assert evaluation.points == 30


def test_purchase_rate_without_line_filters_applies_to_the_whole_total_including_shipping():
    # Lines add up to 100; the order total of 112.50 also carries shipping.
    evaluation = earn(
        "112.50",
        rule(3, points_per_unit=Decimal(2)),
        lines=BASKET,
        terms=program("0"),
    )

    assert parts_by_rule(evaluation)[3] == Decimal("225.00")
    assert evaluation.points == 225


def test_purchase_rate_without_line_filters_applies_to_an_order_sent_without_lines():
    evaluation = earn("80.00", rule(3, points_per_unit=Decimal(3)), terms=program("0"))

    assert evaluation.points == 240


def test_matched_line_amount_is_capped_at_the_order_total():
    # 120 of shoes, but an order-level discount brings the total to 90.
    evaluation = earn(
        "90.00",
        rule(3, points_per_unit=Decimal(2), include_categories=("shoes",)),
        lines=(line("SHOE-1", "shoes", "60.00", quantity=2),),
        terms=program("0"),
    )

    assert parts_by_rule(evaluation)[3] == Decimal("180.00")
    assert evaluation.points == 180


def test_rule_with_no_matching_line_is_not_applied_nor_listed():
    evaluation = earn(
        "100.00",
        rule(3, include_categories=("hats",)),
        lines=BASKET,
    )

    assert evaluation.rule_ids == ()
    assert evaluation.points == 100


def test_line_filters_with_an_order_sent_without_lines_match_nothing():
    evaluation = earn("100.00", rule(3, exclude_categories=("gift_cards",)), terms=program("0"))

    assert evaluation.points == 0
    assert evaluation.parts == ()


def test_purchase_rate_adds_to_the_base_points():
    evaluation = earn(
        "100.00",
        rule(3, points_per_unit=Decimal("0.5"), include_categories=("shoes",)),
        lines=BASKET,
        terms=program("1"),
    )

    assert evaluation.points == 100 + 30


# purchase_multiplier


def test_double_points_on_a_category_doubles_only_that_categorys_base_points():
    evaluation = earn(
        "100.00",
        rule(4, "purchase_multiplier", multiplier=Decimal(2), include_categories=("shoes",)),
        lines=BASKET,
    )

    assert parts_by_rule(evaluation)[4] == Decimal(60)
    assert evaluation.points == 100 + 60


def test_multiplier_scales_with_the_base_rate():
    evaluation = earn(
        "100.00",
        rule(4, "purchase_multiplier", multiplier=Decimal(3), include_skus=("SHOE-1",)),
        lines=BASKET,
        terms=program("0.5"),
    )

    # base 0.5 x 100 = 50; shoe base 0.5 x 40 = 20, tripled adds 40
    assert evaluation.points == 90


def test_multiplier_without_line_filters_multiplies_the_whole_base():
    evaluation = earn("100.00", rule(4, "purchase_multiplier", multiplier=Decimal("1.5")))

    assert evaluation.points == 150


def test_multiplier_of_one_or_less_adds_nothing_and_is_not_applied():
    evaluation = earn(
        "100.00",
        rule(4, "purchase_multiplier", multiplier=Decimal("0.5"), include_categories=("shoes",)),
        rule(5, "purchase_multiplier", multiplier=Decimal("1"), include_categories=("shoes",)),
        lines=BASKET,
    )

    assert evaluation.points == 100
    assert evaluation.rule_ids == ()


def test_multiplier_multiplies_base_points_not_the_extra_points_of_other_rules():
    evaluation = earn(
        "100.00",
        rule(3, "purchase_rate", points_per_unit=Decimal(5)),
        rule(4, "purchase_multiplier", multiplier=Decimal(2)),
    )

    assert evaluation.points == 100 + 500 + 100


def test_matched_amount_for_a_multiplier_is_capped_at_the_order_total():
    evaluation = earn(
        "50.00",
        rule(4, "purchase_multiplier", multiplier=Decimal(2), include_categories=("shoes",)),
        lines=(line("SHOE-1", "shoes", "80.00"),),
    )

    assert evaluation.points == 100


def test_stacked_multipliers_below_one_never_take_away_another_rules_bonus():
    evaluation = earn(
        "100.00",
        rule(4, "purchase_multiplier", multiplier=Decimal("0.3"), include_categories=("sale",)),
        rule(5, "purchase_multiplier", multiplier=Decimal("0.3"), include_categories=("sale",)),
        rule(6, "purchase_bonus", bonus_points=50),
        lines=(line("CLEAR-1", "sale", "100.00"),),
    )

    assert evaluation.points >= 50


def test_multiplier_that_adds_no_points_is_not_listed_as_applied():
    evaluation = earn(
        "100.00",
        rule(3, "purchase_rate", points_per_unit=Decimal(1)),
        rule(4, "purchase_multiplier", multiplier=Decimal(2)),
        terms=program("0"),
    )

    assert evaluation.points == 100
    assert evaluation.rule_ids == (3,)


# purchase_bonus, minimum total and channel


@pytest.mark.parametrize(
    ("total", "applies"),
    [("49.99", False), ("50.00", True), ("50.01", True), ("500.00", True)],
)
def test_purchase_bonus_applies_from_the_minimum_order_total(total, applies):
    evaluation = earn(
        total,
        rule(5, "purchase_bonus", bonus_points=200, min_order_total=Decimal("50.0000")),
        terms=program("0"),
    )

    assert evaluation.points == (200 if applies else 0)
    assert evaluation.rule_ids == ((5,) if applies else ())


def test_minimum_order_total_also_gates_purchase_rate_rules():
    rate = rule(3, "purchase_rate", points_per_unit=Decimal(1), min_order_total=Decimal(100))

    assert earn("99.99", rate, terms=program("0")).points == 0
    assert earn("100.00", rate, terms=program("0")).points == 100


def test_purchase_bonus_is_a_fixed_amount_whatever_the_total():
    bonus = rule(5, "purchase_bonus", bonus_points=75)

    assert earn("1.00", bonus, terms=program("0")).points == 75
    assert earn("9999.99", bonus, terms=program("0")).points == 75


@pytest.mark.parametrize(
    ("rule_store", "order_store", "applies"),
    [
        (7, 7, True),
        (7, 8, False),
        (7, None, False),
        (None, 7, True),
        (None, None, True),
    ],
)
def test_purchase_bonus_applies_only_on_its_channel(rule_store, order_store, applies):
    evaluation = earn(
        "10.00",
        rule(5, "purchase_bonus", bonus_points=40, store_id=rule_store),
        terms=program("0"),
        store_id=order_store,
    )

    assert evaluation.points == (40 if applies else 0)


def test_purchase_bonus_with_line_filters_needs_a_matching_line():
    bonus = rule(5, "purchase_bonus", bonus_points=40, include_categories=("shoes",))

    assert earn("100.00", bonus, lines=BASKET, terms=program("0")).points == 40
    assert earn("10.00", bonus, lines=(SOCKS,), terms=program("0")).points == 0


def test_activity_bonus_rules_never_apply_to_orders():
    evaluation = earn("100.00", rule(9, "activity_bonus", activity_kind="purchase"))

    assert evaluation.rule_ids == ()
    assert evaluation.points == 100


# Caps


@pytest.mark.parametrize("period", ["ever", "day", "month", "year"])
@pytest.mark.parametrize("cap_count", [1, 3])
def test_capped_rule_applies_below_its_count_and_is_skipped_at_or_above_it(period, cap_count):
    bonus = rule(5, "purchase_bonus", bonus_points=50, cap_period=period, cap_count=cap_count)

    def points_after(awards: int) -> int:
        member = MemberFacts(awards_in_period={5: awards})
        return earn("10.00", bonus, terms=program("0"), member=member).points

    assert points_after(0) == 50
    assert points_after(cap_count - 1) == 50
    assert points_after(cap_count) == 0
    assert points_after(cap_count + 1) == 0


def test_rule_without_a_cap_ignores_the_award_count():
    bonus = rule(5, "purchase_bonus", bonus_points=50, cap_period="none", cap_count=1)
    member = MemberFacts(awards_in_period={5: 1000})

    assert earn("10.00", bonus, terms=program("0"), member=member).points == 50


def test_awards_of_another_rule_do_not_count_against_the_cap():
    bonus = rule(5, "purchase_bonus", bonus_points=50, cap_period="ever", cap_count=1)
    member = MemberFacts(awards_in_period={6: 10})

    assert earn("10.00", bonus, terms=program("0"), member=member).points == 50


def test_cap_skips_only_the_capped_rule():
    member = MemberFacts(awards_in_period={5: 1})
    evaluation = earn(
        "10.00",
        rule(5, "purchase_bonus", bonus_points=50, cap_period="day", cap_count=1),
        rule(6, "purchase_bonus", bonus_points=20, cap_period="day", cap_count=1),
        member=member,
    )

    assert evaluation.rule_ids == (6,)
    assert evaluation.points == 10 + 20


# Validity windows and activity flag


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "applies"),
    [
        (NOW, None, True),  # valid_from is inclusive
        (NOW + MICROSECOND, None, False),
        (NOW - datetime.timedelta(days=30), None, True),
        (None, NOW, False),  # valid_until is exclusive
        (None, NOW + MICROSECOND, True),
        (None, NOW - datetime.timedelta(days=1), False),
        (NOW - datetime.timedelta(days=1), NOW + datetime.timedelta(days=1), True),
        (NOW, NOW, False),
        (None, None, True),
    ],
)
def test_rule_applies_only_inside_its_validity_window(valid_from, valid_until, applies):
    bonus = rule(
        5, "purchase_bonus", bonus_points=50, valid_from=valid_from, valid_until=valid_until
    )

    assert earn("10.00", bonus, terms=program("0")).points == (50 if applies else 0)


def test_validity_window_compares_instants_across_time_zones():
    # 08:00 in New York on 15 March 2026 (EDT) is 12:00 UTC, the order's time.
    starts_in_new_york = datetime.datetime(2026, 3, 15, 8, 0, tzinfo=NEW_YORK)
    bonus = rule(5, "purchase_bonus", bonus_points=50, valid_from=starts_in_new_york)

    assert earn("10.00", bonus, terms=program("0")).points == 50
    assert earn("10.00", bonus, terms=program("0"), at=NOW - MICROSECOND).points == 0


def test_inactive_rule_changes_nothing():
    active = earn("100.00", lines=BASKET)
    with_inactive = earn(
        "100.00",
        rule(3, points_per_unit=Decimal(10), is_active=False),
        rule(4, "purchase_multiplier", multiplier=Decimal(5), is_active=False),
        rule(5, "purchase_bonus", bonus_points=500, is_active=False),
        lines=BASKET,
    )

    assert (with_inactive.points, with_inactive.parts) == (active.points, active.parts)
    assert {skip.id for skip in with_inactive.skipped} == {3, 4, 5}


# Tier multiplier


def test_tier_multiplier_applies_on_top_of_the_sum_as_its_own_part():
    gold = MemberFacts(tier_name="Gold", tier_multiplier=Decimal("1.500"))
    evaluation = earn("100.00", rule(5, "purchase_bonus", bonus_points=50), member=gold)

    assert evaluation.points == 225
    tier_part = evaluation.parts[-1]
    assert tier_part.rule_id is None
    assert is_tier_label(tier_part.label, "Gold", "1.5")
    assert tier_part.points == Decimal(75)
    assert evaluation.rule_ids == (5,)


def test_no_tier_part_when_the_multiplier_is_one():
    member = MemberFacts(tier_name="Bronze", tier_multiplier=Decimal("1.000"))
    evaluation = earn("100.00", rule(5, "purchase_bonus", bonus_points=50), member=member)

    assert evaluation.points == 150
    assert all("Tier" not in part.label for part in evaluation.parts)
    assert len(evaluation.parts) == 2


def test_no_tier_part_when_nothing_was_earned():
    gold = MemberFacts(tier_name="Gold", tier_multiplier=Decimal(2))
    evaluation = earn("100.00", terms=program("0"), member=gold)

    assert evaluation.points == 0
    assert evaluation.parts == ()


def test_points_are_rounded_once_after_the_tier_multiplier():
    # 10.70 x 1.5 = 16.05: rounding the base first would give 10 x 1.5 = 15.
    gold = MemberFacts(tier_name="Gold", tier_multiplier=Decimal("1.5"))

    assert earn("10.70", member=gold).points == 16
    assert earn("10.70", member=gold, terms=program("1", "half_up")).points == 16
    assert earn("10.35", member=gold, terms=program("1", "half_up")).points == 16
    assert earn("10.35", member=gold, terms=program("1", "down")).points == 15


def test_tier_multiplier_below_one_reduces_the_points():
    member = MemberFacts(tier_name="Restricted", tier_multiplier=Decimal("0.5"))
    evaluation = earn("100.00", member=member)

    assert evaluation.points == 50
    assert evaluation.parts[-1].points == Decimal(-50)


def test_tier_part_label_writes_a_round_multiplier_in_plain_digits():
    member = MemberFacts(tier_name="Platinum", tier_multiplier=Decimal("10.000"))
    evaluation = earn("10.00", member=member)

    assert is_tier_label(evaluation.parts[-1].label, "Platinum", "10")


# Rule order


def test_parts_follow_priority_then_id_whatever_the_input_order():
    rules = [
        rule(9, "purchase_bonus", bonus_points=1, priority=50),
        rule(2, "purchase_bonus", bonus_points=2, priority=100),
        rule(1, "purchase_bonus", bonus_points=3, priority=100),
        rule(3, "purchase_bonus", bonus_points=4, priority=10),
    ]

    forward = earn("10.00", *rules)
    backward = earn("10.00", *reversed(rules))

    assert forward.rule_ids == (3, 9, 1, 2)
    assert backward == forward


# Explanation


def test_explanation_lists_every_part_with_rule_label_and_points_as_text():
    gold = MemberFacts(tier_name="Gold", tier_multiplier=Decimal("1.25"))
    evaluation = earn(
        "100.00",
        rule(3, name="Shoes x2", kind="purchase_multiplier", include_categories=("shoes",)),
        rule(5, name="Welcome bonus", kind="purchase_bonus", bonus_points=40, priority=1),
        lines=BASKET,
        member=gold,
    )
    explanation = evaluation.explanation()

    assert [(item["rule_id"], item["label"]) for item in explanation[:3]] == [
        (None, "Base 1 per unit"),
        (5, "Welcome bonus"),
        (3, "Shoes x2"),
    ]
    assert explanation[3]["rule_id"] is None
    assert is_tier_label(explanation[3]["label"], "Gold", "1.25")
    for item, part in zip(explanation, evaluation.parts, strict=True):
        assert set(item) == {"rule_id", "campaign_id", "label", "points"}
        assert item["campaign_id"] is None
        assert isinstance(item["points"], str)
        assert Decimal(item["points"]) == part.points
    # (100 + 40 + 60) x 1.25
    assert evaluation.points == 250
    assert sum(Decimal(item["points"]) for item in explanation) == 250


# evaluate_activity


def test_activity_earns_only_from_activity_bonus_rules_of_its_kind():
    evaluation = activity(
        "review",
        rule(1, "activity_bonus", bonus_points=30, activity_kind="review"),
        rule(2, "activity_bonus", bonus_points=70, activity_kind="signup"),
        rule(3, "purchase_bonus", bonus_points=500),
        rule(4, "purchase_rate", points_per_unit=Decimal(10)),
    )

    assert evaluation.points == 30
    assert evaluation.rule_ids == (1,)


def test_activity_kind_must_match_exactly():
    bonus = rule(1, "activity_bonus", bonus_points=30, activity_kind="instagram_follow")

    assert activity("instagram_follow", bonus).points == 30
    assert activity("Instagram_Follow", bonus).points == 0
    assert activity("instagram", bonus).points == 0


def test_activity_sums_every_matching_rule_in_priority_order():
    evaluation = activity(
        "birthday",
        rule(8, "activity_bonus", bonus_points=30, activity_kind="birthday", priority=200),
        rule(4, "activity_bonus", bonus_points=20, activity_kind="birthday", priority=5),
    )

    assert evaluation.points == 50
    assert evaluation.rule_ids == (4, 8)


def test_activity_without_a_matching_rule_earns_nothing():
    gold = MemberFacts(tier_name="Gold", tier_multiplier=Decimal(2))
    evaluation = activity("review", member=gold)

    assert evaluation.points == 0
    assert evaluation.parts == ()


def test_activity_ignores_the_base_earn_rate():
    bonus = rule(1, "activity_bonus", bonus_points=30, activity_kind="signup")

    assert activity("signup", bonus, terms=program("5")).points == 30


@pytest.mark.parametrize("period", ["ever", "day", "month", "year"])
def test_activity_bonus_is_skipped_once_the_member_hit_its_cap(period):
    bonus = rule(
        1, "activity_bonus", bonus_points=30, activity_kind="review", cap_period=period, cap_count=2
    )

    assert activity("review", bonus, member=MemberFacts(awards_in_period={1: 1})).points == 30
    assert activity("review", bonus, member=MemberFacts(awards_in_period={1: 2})).points == 0


def test_uncapped_activity_bonus_ignores_the_award_count():
    bonus = rule(1, "activity_bonus", bonus_points=30, activity_kind="review")

    assert activity("review", bonus, member=MemberFacts(awards_in_period={1: 99})).points == 30


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "is_active", "applies"),
    [
        (NOW, None, True, True),
        (NOW + MICROSECOND, None, True, False),
        (None, NOW, True, False),
        (None, NOW + MICROSECOND, True, True),
        (None, None, False, False),
    ],
)
def test_activity_bonus_applies_only_when_active_and_inside_its_window(
    valid_from, valid_until, is_active, applies
):
    bonus = rule(
        1,
        "activity_bonus",
        bonus_points=30,
        activity_kind="signup",
        valid_from=valid_from,
        valid_until=valid_until,
        is_active=is_active,
    )

    assert activity("signup", bonus).points == (30 if applies else 0)


def test_activity_bonus_gets_the_tier_multiplier():
    gold = MemberFacts(tier_name="Gold", tier_multiplier=Decimal("1.5"))
    evaluation = activity(
        "review", rule(1, "activity_bonus", bonus_points=25, activity_kind="review"), member=gold
    )

    # 25 x 1.5 = 37.5
    assert evaluation.points == 37
    tier_part = evaluation.parts[-1]
    assert tier_part.rule_id is None
    assert is_tier_label(tier_part.label, "Gold", "1.5")
    assert tier_part.points == Decimal("12.5")
    assert (
        activity(
            "review",
            rule(1, "activity_bonus", bonus_points=25, activity_kind="review"),
            member=gold,
            terms=program("1", "half_up"),
        ).points
        == 38
    )


# cap_period_start


def test_month_starts_in_the_merchants_zone_not_in_utc():
    # 02:30 UTC on 1 March is still 28 February, 21:30, in New York.
    at = datetime.datetime(2026, 3, 1, 2, 30, tzinfo=UTC)

    start = cap_period_start("month", at, NEW_YORK)

    assert start == datetime.datetime(2026, 2, 1, 0, 0, tzinfo=NEW_YORK)
    assert start == datetime.datetime(2026, 2, 1, 5, 0, tzinfo=UTC)
    assert start.tzinfo == UTC  # returned in UTC, so it compares safely across zones


def test_day_starts_at_local_midnight_of_the_merchants_zone():
    at = datetime.datetime(2026, 3, 1, 2, 30, tzinfo=UTC)

    assert cap_period_start("day", at, NEW_YORK) == datetime.datetime(2026, 2, 28, 5, 0, tzinfo=UTC)


def test_the_first_instant_of_a_period_belongs_to_it_and_the_one_before_does_not():
    midnight = datetime.datetime(2026, 2, 1, 5, 0, tzinfo=UTC)  # 1 February 00:00 in New York

    assert cap_period_start("month", midnight, NEW_YORK) == midnight
    assert cap_period_start("month", midnight - MICROSECOND, NEW_YORK) == datetime.datetime(
        2026, 1, 1, 0, 0, tzinfo=NEW_YORK
    )


def test_year_starts_on_local_new_year():
    at = datetime.datetime(2026, 1, 1, 3, 0, tzinfo=UTC)  # still 2025 in New York

    assert cap_period_start("year", at, NEW_YORK) == datetime.datetime(
        2025, 1, 1, 0, 0, tzinfo=NEW_YORK
    )


def test_zone_ahead_of_utc_starts_its_month_before_utc_does():
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    at = datetime.datetime(2026, 2, 28, 16, 0, tzinfo=UTC)  # 1 March, 01:00 in Tokyo

    assert cap_period_start("month", at, tokyo) == datetime.datetime(2026, 2, 28, 15, 0, tzinfo=UTC)


def test_day_start_on_a_spring_forward_day_uses_the_standard_offset():
    # 8 March 2026: New York moves from EST to EDT at 02:00 local.
    at = datetime.datetime(2026, 3, 8, 18, 0, tzinfo=UTC)

    start = cap_period_start("day", at, NEW_YORK)

    assert start == datetime.datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert start.astimezone(NEW_YORK).utcoffset() == datetime.timedelta(hours=-5)


def test_month_start_keeps_the_offset_in_force_at_that_start():
    at = datetime.datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # EDT by then

    assert cap_period_start("month", at, NEW_YORK) == datetime.datetime(
        2026, 3, 1, 5, 0, tzinfo=UTC
    )


def test_day_start_when_local_midnight_is_skipped_is_the_first_instant_of_the_day():
    # Chile springs forward at 24:00 on 7 September 2024: 8 September starts at 01:00 -03,
    # 04:00 UTC.
    santiago = zoneinfo.ZoneInfo("America/Santiago")
    at = datetime.datetime(2024, 9, 8, 15, 0, tzinfo=UTC)

    start = cap_period_start("day", at, santiago)

    # Compared in UTC: an aware datetime inside a gap never compares == across zones.
    assert start.astimezone(UTC) == datetime.datetime(2024, 9, 8, 4, 0, tzinfo=UTC)
    assert start <= at


def test_day_start_when_local_midnight_repeats_is_the_first_midnight():
    # Cuba falls back from 01:00 to 00:00 on 2 November 2025: 00:00-00:59 happens twice, first
    # at -04 (04:00 UTC), then at -05. At 05:30 UTC (the second 00:30) the day began at 04:00.
    havana = zoneinfo.ZoneInfo("America/Havana")
    at = datetime.datetime(2025, 11, 2, 5, 30, tzinfo=UTC)

    assert cap_period_start("day", at, havana) == datetime.datetime(2025, 11, 2, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("period", ["ever", "none"])
def test_uncounted_periods_have_no_start(period):
    assert cap_period_start(period, NOW, NEW_YORK) is None


# Property tests

SKUS = ("A-1", "A-2", "B-1", "B-2")
CATEGORIES = ("shoes", "socks", "hats")
STORES = (None, 1, 2)

totals = st.decimals(
    min_value=Decimal("0.01"),
    max_value=Decimal("20000"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
any_totals = st.decimals(
    min_value=Decimal("-20000"),
    max_value=Decimal("20000"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
rates = st.decimals(
    min_value=Decimal(0), max_value=Decimal(25), places=4, allow_nan=False, allow_infinity=False
)
roundings = st.sampled_from(["down", "half_up"])
tier_multipliers = st.sampled_from([Decimal(1), Decimal("1.25"), Decimal("1.5"), Decimal(2)])
lines_st = st.lists(
    st.builds(
        Line,
        sku=st.sampled_from(SKUS),
        category=st.sampled_from(CATEGORIES),
        quantity=st.integers(min_value=1, max_value=5),
        unit_price=st.decimals(
            min_value=Decimal("0.01"),
            max_value=Decimal("500"),
            places=2,
            allow_nan=False,
            allow_infinity=False,
        ),
    ),
    max_size=5,
).map(tuple)
DAY = datetime.timedelta(days=1)


def mostly(common, *rare):
    """A value that is usually ``common``, so that most generated rules apply."""
    return st.sampled_from([common] * 6 + list(rare))


@st.composite
def purchase_rules(
    draw, rule_id: int, kinds=("purchase_rate", "purchase_multiplier", "purchase_bonus")
):
    kind = draw(st.sampled_from(kinds))
    terms = {
        "priority": draw(st.integers(min_value=0, max_value=3)),
        "is_active": draw(mostly(True, False)),
        "valid_from": draw(mostly(None, NOW - DAY, NOW, NOW + MICROSECOND)),
        "valid_until": draw(mostly(None, NOW, NOW + DAY)),
        "min_order_total": draw(mostly(None, Decimal(0), Decimal(50), Decimal(1000))),
        "include_skus": draw(mostly((), ("A-1",), ("A-1", "B-2"))),
        "exclude_skus": draw(mostly((), ("A-2",), ("A-1", "B-1"))),
        "include_categories": draw(mostly((), ("shoes",), ("shoes", "socks"))),
        "exclude_categories": draw(mostly((), ("hats",), ("socks",))),
        "store_id": draw(mostly(None, 1, 2)),
        "cap_period": draw(st.sampled_from(["none", "none", "ever", "day", "month", "year"])),
        "cap_count": draw(st.integers(min_value=1, max_value=3)),
    }
    if kind == "purchase_rate":
        terms["points_per_unit"] = draw(
            st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10), places=4)
        )
    elif kind == "purchase_multiplier":
        # A multiplier of 1 or less adds nothing (see the tests above).
        terms["multiplier"] = draw(
            st.decimals(min_value=Decimal(1), max_value=Decimal(5), places=3)
        )
    else:
        terms["bonus_points"] = draw(st.integers(min_value=1, max_value=1000))
    return RuleTerms(id=rule_id, name=f"Rule {rule_id}", kind=kind, **terms)


@st.composite
def rule_sets(draw, max_size: int = 5):
    size = draw(st.integers(min_value=0, max_value=max_size))
    ids = draw(st.permutations(range(1, max_size + 1)))[:size]
    return tuple(draw(purchase_rules(rule_id)) for rule_id in ids)


@st.composite
def members(draw):
    return MemberFacts(
        tier_name="Tier",
        tier_multiplier=draw(tier_multipliers),
        awards_in_period=draw(
            st.dictionaries(
                st.integers(min_value=1, max_value=6), st.integers(min_value=0, max_value=4)
            )
        ),
    )


@st.composite
def scenarios(draw):
    return {
        "program": ProgramTerms(base_earn_rate=draw(rates), rounding=draw(roundings)),
        "rules": draw(rule_sets()),
        "member": draw(members()),
        "order": OrderFacts(
            total=draw(totals),
            placed_at=NOW,
            lines=draw(lines_st),
            store_id=draw(st.sampled_from(STORES)),
        ),
    }


def evaluate(scenario: dict, **changes) -> Evaluation:
    return evaluate_order(**{**scenario, **changes})


def hand_points(*, program: ProgramTerms, rules, member: MemberFacts, order: OrderFacts) -> int:
    """The module docstring's recipe, computed by hand with exact fractions."""
    terms, facts = program, order
    total = Fraction(facts.total)
    if total <= 0:
        return 0
    base = Fraction(terms.base_earn_rate)
    points = base * total
    for r in rules:
        valid = (
            r.is_active
            and (r.valid_from is None or r.valid_from <= facts.placed_at)
            and (r.valid_until is None or facts.placed_at < r.valid_until)
        )
        if not valid or r.kind == "activity_bonus":
            continue
        if r.store_id is not None and r.store_id != facts.store_id:
            continue
        if r.min_order_total is not None and total < r.min_order_total:
            continue
        if r.cap_period != "none" and member.awards_in_period.get(r.id, 0) >= r.cap_count:
            continue
        if r.include_skus or r.exclude_skus or r.include_categories or r.exclude_categories:
            amount = sum(
                (
                    Fraction(ln.unit_price) * ln.quantity
                    for ln in facts.lines
                    if (not r.include_skus or ln.sku in r.include_skus)
                    and (not r.include_categories or ln.category in r.include_categories)
                    and ln.sku not in r.exclude_skus
                    and ln.category not in r.exclude_categories
                ),
                Fraction(0),
            )
            amount = min(amount, total)
        else:
            amount = total
        if amount <= 0:
            continue
        if r.kind == "purchase_rate":
            points += Fraction(r.points_per_unit) * amount
        elif r.kind == "purchase_multiplier":
            points += base * amount * (Fraction(r.multiplier) - 1)
        elif r.kind == "purchase_bonus":
            points += r.bonus_points
    if points > 0:
        points *= Fraction(member.tier_multiplier)
    if terms.rounding == "down":
        return max(0, math.floor(points))
    return max(0, math.floor(points + Fraction(1, 2)))


@PROPERTY
@given(rate=rates, total=totals, rounding=roundings)
def test_base_points_equal_a_hand_computation(rate, total, rounding):
    exact = Fraction(rate) * Fraction(total)
    expected = math.floor(exact) if rounding == "down" else math.floor(exact + Fraction(1, 2))

    assert earn(total, terms=ProgramTerms(rate, rounding)).points == expected


@PROPERTY
@given(scenario=scenarios())
def test_points_equal_a_hand_computation_so_never_exceed_it(scenario):
    evaluation = evaluate(scenario)

    assert evaluation.points == hand_points(**scenario)


@PROPERTY
@given(scenario=scenarios(), total=any_totals)
def test_points_are_always_a_non_negative_int(scenario, total):
    facts = replace(scenario["order"], total=total)
    evaluation = evaluate(scenario, order=facts)

    assert type(evaluation.points) is int
    assert evaluation.points >= 0
    if total <= 0:
        assert evaluation.points == 0


@PROPERTY
@given(scenario=scenarios(), a=totals, b=totals)
def test_a_larger_total_never_earns_fewer_points(scenario, a, b):
    low, high = sorted((a, b))
    facts = scenario["order"]

    low_points = evaluate(scenario, order=replace(facts, total=low)).points
    high_points = evaluate(scenario, order=replace(facts, total=high)).points

    assert low_points <= high_points


@PROPERTY
@given(scenario=scenarios())
def test_rounding_down_is_at_most_half_up_and_at_most_one_point_below(scenario):
    rate = scenario["program"].base_earn_rate
    down = evaluate(scenario, program=ProgramTerms(rate, "down")).points
    half_up = evaluate(scenario, program=ProgramTerms(rate, "half_up")).points

    assert down <= half_up <= down + 1


@PROPERTY
@given(scenario=scenarios(), data=st.data())
def test_adding_an_active_rate_or_bonus_rule_never_lowers_the_points(scenario, data):
    extra = data.draw(purchase_rules(99, kinds=("purchase_rate", "purchase_bonus")))
    extra = replace(extra, is_active=True)

    before = evaluate(scenario).points
    after = evaluate(scenario, rules=(*scenario["rules"], extra)).points

    assert after >= before


@PROPERTY
@given(
    scenario=scenarios(),
    data=st.data(),
    window=st.sampled_from(
        [
            {"is_active": False},
            {"valid_from": NOW + MICROSECOND},
            {"valid_from": NOW + DAY, "valid_until": NOW + 2 * DAY},
            {"valid_until": NOW},
            {"valid_from": NOW - 2 * DAY, "valid_until": NOW - DAY},
        ]
    ),
)
def test_an_inactive_or_out_of_window_rule_changes_nothing(scenario, data, window):
    extra = data.draw(purchase_rules(99))
    extra = replace(extra, **{"is_active": True, "valid_from": None, "valid_until": None, **window})

    before = evaluate(scenario)
    after = evaluate(scenario, rules=(*scenario["rules"], extra))

    assert (after.points, after.parts) == (before.points, before.parts)
    assert extra.id in {skip.id for skip in after.skipped}


@PROPERTY
@given(scenario=scenarios(), data=st.data())
def test_rule_input_order_changes_nothing(scenario, data):
    shuffled = tuple(data.draw(st.permutations(scenario["rules"])))

    evaluation = evaluate(scenario)

    assert evaluate(scenario, rules=shuffled) == evaluation
    by_rule = {r.id: r for r in scenario["rules"]}
    keys = [(by_rule[i].priority, i) for i in evaluation.rule_ids]
    assert keys == sorted(keys)


@PROPERTY
@given(scenario=scenarios())
def test_explanation_adds_up_to_the_points(scenario):
    evaluation = evaluate(scenario)
    explanation = evaluation.explanation()

    assert len(explanation) == len(evaluation.parts)
    assert all(isinstance(item["points"], str) for item in explanation)
    subtotal = sum((Decimal(item["points"]) for item in explanation), Decimal(0))
    rounded = max(0, round_points(subtotal, scenario["program"].rounding))
    assert rounded == evaluation.points
    tier_parts = [item for item in explanation if item["label"].startswith("Tier ")]
    if scenario["member"].tier_multiplier == 1:
        assert tier_parts == []


@PROPERTY
@given(
    kind=st.sampled_from(["signup", "review", "birthday", "custom_quiz"]),
    rule_kinds=st.lists(
        st.tuples(
            st.sampled_from(["signup", "review", "birthday", "custom_quiz"]),
            st.integers(min_value=1, max_value=500),
            st.booleans(),
        ),
        max_size=5,
    ),
    member=members(),
)
def test_activity_points_are_the_sum_of_its_kinds_bonuses_times_the_tier(kind, rule_kinds, member):
    rules = [
        rule(
            index + 1,
            "activity_bonus",
            activity_kind=activity_kind,
            bonus_points=bonus,
            cap_period="ever" if capped else "none",
            cap_count=2,
        )
        for index, (activity_kind, bonus, capped) in enumerate(rule_kinds)
    ]
    expected = sum(
        r.bonus_points
        for r in rules
        if r.activity_kind == kind
        and (r.cap_period == "none" or member.awards_in_period.get(r.id, 0) < 2)
    )

    evaluation = activity(kind, *rules, member=member)

    assert evaluation.points == math.floor(Fraction(expected) * Fraction(member.tier_multiplier))
    assert all(r.activity_kind == kind for r in rules if r.id in evaluation.rule_ids)


ZONES = [
    zoneinfo.ZoneInfo(name)
    for name in (
        "UTC",
        "America/New_York",
        "America/Los_Angeles",
        "Europe/Berlin",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Australia/Sydney",
        "Pacific/Auckland",
    )
]


@PROPERTY
@given(
    at=st.datetimes(
        min_value=datetime.datetime(2000, 1, 1),
        max_value=datetime.datetime(2037, 12, 31),
        timezones=st.just(UTC),
    ),
    zone=st.sampled_from(ZONES),
    period=st.sampled_from(["day", "month", "year"]),
)
def test_cap_period_starts_at_the_first_local_instant_of_the_period_containing_at(at, zone, period):
    start = cap_period_start(period, at, zone)
    local_at = at.astimezone(zone)
    local_start = start.astimezone(zone)
    just_before = (start - MICROSECOND).astimezone(zone)

    assert start <= at
    assert (local_start.hour, local_start.minute, local_start.second) == (0, 0, 0)
    assert local_start.year == local_at.year
    if period == "day":
        assert local_start.date() == local_at.date()
        assert just_before.date() < local_start.date()
    elif period == "month":
        assert (local_start.month, local_start.day) == (local_at.month, 1)
        assert (just_before.year, just_before.month) != (local_at.year, local_at.month)
    else:
        assert (local_start.month, local_start.day) == (1, 1)
        assert just_before.year == local_at.year - 1
