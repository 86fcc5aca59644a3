"""A definition is checked before it is saved, and stored normalised with its version."""

import pytest

from loyalty.attributes import AttributeSpec
from loyalty.segments.definition import Context, InvalidDefinition, definition_clean

CONTEXT = Context(
    tier_ids=frozenset({7, 8}),
    segments={1: frozenset(), 2: frozenset({3}), 3: frozenset({9})},
    self_id=9,
    attributes={
        "shoe_size": AttributeSpec("shoe_size", "Shoe size", "number"),
        "plan": AttributeSpec("plan", "Plan", "choice", choices=("free", "pro")),
    },
)


def clean(*conditions, **group):
    return definition_clean({"version": 1, "groups": [{"conditions": list(conditions)}]}, CONTEXT)


def fails(data, where):
    with pytest.raises(InvalidDefinition) as error:
        definition_clean(data, CONTEXT)
    assert error.value.field == (f"definition.{where}" if where else "definition")
    return error.value


def one(condition):
    return {"version": 1, "groups": [{"conditions": [condition]}]}


@pytest.mark.parametrize(
    ("condition", "where"),
    [
        ({"field": "shoe_size", "op": "eq", "value": 1}, "groups.0.conditions.0.field"),
        ({"field": "spend", "op": "gt", "value": "1"}, "groups.0.conditions.0.op"),
        ({"field": "spend", "op": "gte", "value": 10.5}, "groups.0.conditions.0.value"),
        ({"field": "spend", "op": "gte", "value": "-1"}, "groups.0.conditions.0.value"),
        ({"field": "spend", "op": "gte", "value": "1.23456"}, "groups.0.conditions.0.value"),
        ({"field": "spend", "op": "gte", "value": "NaN"}, "groups.0.conditions.0.value"),
        ({"field": "orders_count", "op": "gte", "value": True}, "groups.0.conditions.0.value"),
        (
            {"field": "orders_count", "op": "between", "value": [5, 2]},
            "groups.0.conditions.0.value",
        ),
        ({"field": "orders_count", "op": "between", "value": [1]}, "groups.0.conditions.0.value"),
        (
            {"field": "orders_count", "op": "gte", "value": 1, "window": {"last_days": 0}},
            "groups.0.conditions.0.window.last_days",
        ),
        (
            {"field": "orders_count", "op": "gte", "value": 1, "window": {"last_days": 99999}},
            "groups.0.conditions.0.window.last_days",
        ),
        (
            {
                "field": "orders_count",
                "op": "gte",
                "value": 1,
                "window": {"from": "2026-03-01", "to": "2026-02-01"},
            },
            "groups.0.conditions.0.window",
        ),
        (
            {
                "field": "orders_count",
                "op": "gte",
                "value": 1,
                "window": {"from": "2026-02-30", "to": "2026-03-01"},
            },
            "groups.0.conditions.0.window.from",
        ),
        (
            {"field": "orders_count", "op": "gte", "value": 1, "window": {"days": 3}},
            "groups.0.conditions.0.window",
        ),
        (
            {"field": "country", "op": "in", "value": ["FR"], "window": {"last_days": 3}},
            "groups.0.conditions.0.window",
        ),
        ({"field": "country", "op": "in", "value": ["France"]}, "groups.0.conditions.0.value"),
        ({"field": "country", "op": "in", "value": []}, "groups.0.conditions.0.value"),
        ({"field": "country", "op": "in", "value": ["FR"] * 201}, "groups.0.conditions.0.value"),
        ({"field": "tier", "op": "in", "value": [99]}, "groups.0.conditions.0.value"),
        ({"field": "segment", "op": "in", "value": [42]}, "groups.0.conditions.0.value"),
        # 2 names 3, which names 9: the segment being saved.
        ({"field": "segment", "op": "in", "value": [2]}, "groups.0.conditions.0.value"),
        ({"field": "age", "op": "gte", "value": 151}, "groups.0.conditions.0.value"),
        ({"field": "rfm_recency", "op": "gte", "value": 6}, "groups.0.conditions.0.value"),
        (
            {"field": "member_since", "op": "before", "value": "yesterday"},
            "groups.0.conditions.0.value",
        ),
        ({"field": "marketing_consent", "op": "is", "value": "yes"}, "groups.0.conditions.0.value"),
        ({"field": "activities", "op": "gte", "value": 1}, "groups.0.conditions.0.kinds"),
        ({"field": "bought", "op": "any", "value": []}, "groups.0.conditions.0.value"),
        (
            {"field": "country", "op": "in", "value": ["FR"], "negate": "no"},
            "groups.0.conditions.0.negate",
        ),
        (
            {"field": "attribute", "attribute": "favourite", "op": "eq", "value": "x"},
            "groups.0.conditions.0.attribute",
        ),
        (
            {"field": "attribute", "attribute": "shoe_size", "op": "contains", "value": "4"},
            "groups.0.conditions.0.op",
        ),
        (
            {"field": "attribute", "attribute": "shoe_size", "op": "gte", "value": "big"},
            "groups.0.conditions.0.value",
        ),
        (
            {"field": "attribute", "attribute": "plan", "op": "in", "value": ["enterprise"]},
            "groups.0.conditions.0.value",
        ),
        ("spend >= 100", "groups.0.conditions.0"),
    ],
)
def test_a_bad_condition_is_refused_naming_its_place(condition, where):
    fails(one(condition), where)


def test_bad_shapes_are_refused():
    fails([], "")
    fails({"version": 2, "groups": []}, "version")
    fails({"version": 1, "groups": {}}, "groups")
    fails({"version": 1, "groups": [], "extra": 1}, "extra")
    fails({"version": 1, "groups": [{"conditions": []}]}, "groups.0.conditions")
    fails({"version": 1, "groups": [{"all": []}]}, "groups.0")
    fails({"version": 1, "groups": [{"conditions": [{}]}] * 11}, "groups")
    too_many = [{"field": "tier", "op": "none"}] * 11
    fails({"version": 1, "groups": [{"conditions": too_many}]}, "groups.0.conditions")


def test_a_valid_definition_is_normalised_and_says_if_it_moves_with_the_calendar():
    definition = clean(
        {"field": "country", "op": "in", "value": ["fr", "FR", "de"]},
        {
            "field": "spend",
            "op": "gte",
            "value": "100.50",
            "window": {"from": "2026-01-01", "to": "2026-12-31"},
        },
    )
    assert definition.as_json() == {
        "version": 1,
        "groups": [
            {
                "conditions": [
                    {"field": "country", "op": "in", "value": ["FR", "DE"]},
                    {
                        "field": "spend",
                        "op": "gte",
                        "value": "100.5",
                        "window": {"from": "2026-01-01", "to": "2026-12-31"},
                    },
                ]
            }
        ],
    }
    assert not definition.relative
    assert definition_clean(definition.as_json(), CONTEXT) == definition
    assert clean(
        {"field": "orders_count", "op": "gte", "value": 1, "window": {"last_days": 30}}
    ).relative
    assert clean({"field": "age", "op": "gte", "value": 18}).relative
    assert clean({"field": "member_since", "op": "within_last_days", "value": 30}).relative
    assert not clean({"field": "member_since", "op": "after", "value": "2026-01-01"}).relative
    assert clean({"field": "segment", "op": "in", "value": [1]}).segment_ids() == {1}
    assert definition_clean({"version": 1, "groups": []}, CONTEXT).groups == ()
