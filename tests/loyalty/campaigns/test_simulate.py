"""The order simulator, ``POST /api/v1/orders/simulate/``: what an order would earn now and
why the other rules and campaigns would not apply, equal to what recording the same order
then earns, and never a row written."""

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.actors import SYSTEM, Actor
from loyalty.campaigns.services import coupon_codes_add
from loyalty.models import (
    CampaignAward,
    CampaignCoupon,
    CampaignSpend,
    EarningRule,
    ExchangeRate,
    Member,
    MemberStatus,
    Order,
    RuleAward,
    Segment,
    Tier,
)
from loyalty.rules import HOLDOUT_BUCKETS, holdout_bucket
from loyalty.services.members import member_anonymise
from loyalty.services.orders import LineInput, OrderInput, order_record
from loyalty.services.programs import program_configure
from loyalty.services.simulator import order_simulate
from tests.conftest import assert_problem
from tests.loyalty.apihelpers import db_state, post_json, program_for
from tests.loyalty.campaigns.helpers import campaign_make, segment_with, spent
from tests.loyalty.factories import member_make, next_id, program_merchant

pytestmark = pytest.mark.django_db

ON_POSTGRES = "postgresql" in django_settings.DATABASES["default"]["ENGINE"]
SIMULATE = "/api/v1/orders/simulate/"
ORDERS = "/api/v1/orders/"
LINES = [
    {"sku": "TENT-2P", "category": "camping", "quantity": 1, "unit_price": "60.00"},
    {"sku": "MUG", "category": "kitchen", "quantity": 2, "unit_price": "10.00"},
]


def order_body(member: Any = "cust-1", total: Any = "90.00", **extra: Any) -> dict[str, Any]:
    """An order's body without ``external_id`` (the simulator needs none)."""
    return {
        "member": member,
        "total": total,
        "currency": "USD",
        "placed_at": (timezone.now() - datetime.timedelta(hours=1)).isoformat(),
        "lines": LINES,
        **extra,
    }


def simulate(tenant, body: dict[str, Any]):
    return post_json(tenant.client, SIMULATE, body)


def parts(explanation: list[dict]) -> list[tuple[int | None, int | None, str]]:
    """What each part of an explanation is and gives; labels aside (a recorded coupon's
    label has its code appended)."""
    return [(part["rule_id"], part["campaign_id"], part["points"]) for part in explanation]


def skipped(body: dict) -> dict[tuple[str, int], str]:
    return {(skip["kind"], skip["id"]): skip["reason"] for skip in body["not_applied"]}


def rows() -> dict[str, list[dict]]:
    """Every row recording an order writes, campaigns' included."""
    return {
        **db_state(),
        **{
            model.__name__: list(model.objects.order_by("pk").values())
            for model in (RuleAward, CampaignAward, CampaignSpend, CampaignCoupon, Segment, Tier)
        },
    }


def rule_make(program, name: str, kind: str, **terms: Any) -> EarningRule:
    return EarningRule.objects.create(program=program, name=name, kind=kind, **terms)


# -- what it answers ---------------------------------------------------------------------


def test_simulating_an_order_answers_what_recording_it_then_earns(tenant, program):
    member = member_make(tenant.merchant, "cust-1")
    rule_make(
        program,
        "Camping +1",
        "purchase_rate",
        points_per_unit=Decimal(1),
        include_categories=["camping"],
    )
    rule_make(program, "Daily bonus", "purchase_bonus", bonus_points=7, cap_period="day")
    fans = segment_with(tenant.merchant, member, name="Fans")
    double = campaign_make(program, name="Double", segments=[fans], points_budget=200)
    kitchen = campaign_make(
        program,
        name="Kitchen",
        effect="per_unit",
        points_per_unit=Decimal("0.5"),
        include_categories=["kitchen"],
        cap_period="ever",
        cap_count=2,
    )
    coupon = campaign_make(program, name="Spring", effect="coupon", min_order_total=Decimal(50))
    coupon_codes_add(campaign=coupon, codes=["SPRING-1"])
    earned = []

    # Three orders in turn: the daily rule, the cap, the coupon and the budget each run out.
    for number in range(1, 4):
        body = order_body()
        simulation = simulate(tenant, body)
        recorded = post_json(tenant.client, ORDERS, {**body, "external_id": f"o-{number}"})

        assert simulation.status_code == 200, simulation.content
        assert recorded.status_code == 201, recorded.content
        answer, order = simulation.json(), recorded.json()
        assert answer["points"] == order["points_earned"]
        assert parts(answer["rules"]) == parts(order["rules"])
        for predicted, got in zip(answer["rules"], order["rules"], strict=True):
            code = " SPRING-1" if predicted["campaign_id"] == coupon.pk else ""
            assert got["label"] == predicted["label"] + code
        assert answer["member"] == {
            "external_id": "cust-1",
            "exists": True,
            "tier": None,
            "segments": [fans.pk],
        }
        assert (answer["program_currency"], answer["program_total"]) == ("USD", "90")
        earned.append(order["points_earned"])

    # 90 base, 60 camping, 7 daily, 90 double (budget 200), 10 kitchen (twice ever).
    assert earned == [90 + 60 + 7 + 90 + 10, 90 + 60 + 90 + 10, 90 + 60 + 20]
    assert spent(double) == 200
    assert spent(kitchen) == 20
    assert CampaignCoupon.objects.get(code="SPRING-1").member_id == member.pk


def test_simulating_writes_nothing(tenant, program):
    member = member_make(tenant.merchant, "cust-1")
    rule_make(program, "Daily bonus", "purchase_bonus", bonus_points=7, cap_period="day")
    campaign_make(program, name="Double", points_budget=500, cap_period="ever", cap_count=5)
    coupon = campaign_make(program, name="Spring", effect="coupon", min_order_total=Decimal(1))
    coupon_codes_add(campaign=coupon, codes=["SPRING-1", "SPRING-2"])
    segment = segment_with(tenant.merchant, member)
    post_json(tenant.client, ORDERS, {**order_body(), "external_id": "o-1"})
    before = rows()
    assert before["CampaignAward"]
    assert before["CampaignSpend"][0]["points_given"] == 90

    known = simulate(tenant, order_body())
    unknown = simulate(tenant, order_body(member="prospect-1", assume={"segments": [segment.pk]}))
    named = simulate(tenant, order_body(member="cust-2", external_id="o-2"))

    assert [known.status_code, unknown.status_code, named.status_code] == [200, 200, 200]
    assert unknown.json()["member"]["exists"] is False
    assert coupon.pk in [part["campaign_id"] for part in unknown.json()["rules"]]
    assert rows() == before
    assert not Member.objects.filter(external_id__in=["prospect-1", "cust-2"]).exists()
    assert not Order.objects.filter(external_id="o-2").exists()


def test_not_applied_says_why_each_rule_and_campaign_would_not_apply(tenant, program):
    now = timezone.now()
    holdout = campaign_make(program, name="Holdout", holdout_percent=Decimal(50))
    members = (member_make(tenant.merchant) for _ in range(60))
    member = next(
        m for m in members if holdout_bucket(holdout.pk, str(m.pk)) < HOLDOUT_BUCKETS // 2
    )
    past = rule_make(
        program,
        "Last summer",
        "purchase_bonus",
        bonus_points=50,
        valid_until=now - datetime.timedelta(days=30),
    )
    daily = rule_make(program, "Daily", "purchase_bonus", bonus_points=3, cap_period="day")
    once = campaign_make(
        program,
        name="Once",
        effect="order_bonus",
        bonus_points=10,
        min_order_total=Decimal(1),
        cap_period="ever",
    )
    vip = campaign_make(program, name="VIP", segments=[segment_with(tenant.merchant, name="VIP")])
    budget = campaign_make(
        program, name="Budget", effect="per_unit", points_per_unit=Decimal(1), points_budget=5
    )
    first = post_json(
        tenant.client,
        ORDERS,
        {**order_body(member=member.external_id), "external_id": "o-1"},
    )
    assert first.json()["points_earned"] == 90 + 3 + 10 + 5

    response = simulate(tenant, order_body(member=member.external_id))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["points"] == 90
    assert parts(body["rules"]) == [(None, None, "90")]
    assert skipped(body) == {
        ("rule", past.pk): "outside the rule's dates",
        ("rule", daily.pk): "the member reached the rule's cap",
        ("campaign", holdout.pk): "the member is in the campaign's control group",
        ("campaign", once.pk): "the member reached the campaign's cap",
        ("campaign", vip.pk): "the member is not in the campaign's segments",
        ("campaign", budget.pk): "the campaign's budget is spent",
    }
    names = {(skip["kind"], skip["id"]): skip["name"] for skip in body["not_applied"]}
    assert (names["rule", past.pk], names["campaign", budget.pk]) == ("Last summer", "Budget")


def test_a_campaign_is_named_when_the_order_is_outside_its_dates(tenant, program):
    now = timezone.now()
    recent = campaign_make(program, name="Recent", starts_at=now - datetime.timedelta(minutes=30))
    later = campaign_make(
        program,
        name="Later",
        status="scheduled",
        starts_at=now + datetime.timedelta(days=2),
        ends_at=now + datetime.timedelta(days=9),
    )
    member_make(tenant.merchant, "cust-1")

    body = simulate(tenant, order_body()).json()

    assert skipped(body) == {
        ("campaign", recent.pk): "outside the campaign's dates",
        ("campaign", later.pk): "the campaign is scheduled",
    }
    assert body["points"] == 90


def test_a_hypothetical_member_earns_with_the_tier_and_segments_assumed(tenant, program):
    program = program_for(tenant.merchant, tiers_enabled=True)
    Tier.objects.create(program=program, name="Silver", threshold=0)
    Tier.objects.create(program=program, name="Gold", threshold=1000, multiplier=Decimal("1.5"))
    prospects = segment_with(tenant.merchant, name="Prospects")
    welcome = campaign_make(
        program,
        name="Welcome",
        effect="order_bonus",
        bonus_points=20,
        min_order_total=Decimal(10),
        segments=[prospects],
        holdout_percent=Decimal(50),
        cap_period="ever",
    )
    before = rows()

    assumed = simulate(
        tenant,
        order_body(
            member={"external_id": "prospect-1", "email": "p@example.com"},
            total="40.00",
            lines=[],
            assume={"tier": "Gold", "segments": [prospects.pk]},
        ),
    )
    plain = simulate(tenant, order_body(member="prospect-1", total="40.00", lines=[]))

    assert assumed.status_code == 200, assumed.content
    body = assumed.json()
    assert body["member"] == {
        "external_id": "prospect-1",
        "exists": False,
        "tier": "Gold",
        "segments": [prospects.pk],
    }
    # The control group is drawn by member: nobody is in it before they exist.
    assert body["points"] == (40 + 20) * 1.5
    assert parts(body["rules"]) == [
        (None, None, "40"),
        (None, welcome.pk, "20"),
        (None, None, "30"),
    ]
    assert body["rules"][2]["label"] == "Tier Gold x1.5"
    assert body["not_applied"] == []
    body = plain.json()
    assert (body["points"], body["member"]["tier"], body["member"]["segments"]) == (40, None, [])
    assert skipped(body) == {
        ("campaign", welcome.pk): "the member is not in the campaign's segments"
    }
    assert rows() == before


def test_another_merchants_member_rules_and_campaigns_are_invisible(tenant_pair):
    a, b = tenant_pair.a, tenant_pair.b
    program_a = program_for(a.merchant)
    program_for(b.merchant)
    member_make(a.merchant, "cust-1")
    campaign_make(program_a, name="A's double")
    rule_make(program_a, "A's bonus", "purchase_bonus", bonus_points=5)
    post_json(a.client, ORDERS, {**order_body(), "external_id": "o-1"})

    response = simulate(b, {**order_body(), "currency": "EUR"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["member"]["exists"] is False
    assert (body["points"], body["program_currency"]) == (90, "EUR")
    ids = {part["rule_id"] for part in body["rules"]} | {
        part["campaign_id"] for part in body["rules"]
    }
    assert ids == {None}
    assert body["not_applied"] == []


# -- what it refuses ---------------------------------------------------------------------


@pytest.fixture
def world(tenant, program):
    """A program with tiers, a segment, a campaign and a member who bought once."""
    program = program_for(tenant.merchant, tiers_enabled=True)
    Tier.objects.create(program=program, name="Gold", threshold=1000, multiplier=Decimal(2))
    segment = segment_with(tenant.merchant, name="Fans")
    campaign_make(program, name="Double", segments=[segment], points_budget=100)
    member_make(tenant.merchant, "cust-1")
    post_json(tenant.client, ORDERS, {**order_body(), "external_id": "o-1"})
    return segment


BAD_BODIES = [
    pytest.param({"assume": {"tier": "Gold"}}, 400, "domain_error", "assume", id="assume-known"),
    pytest.param({"assume": {}}, 400, "domain_error", "assume", id="assume-empty-known"),
    pytest.param(
        {"member": "new-1", "assume": {"tier": "Platinum"}},
        400,
        "domain_error",
        "assume.tier",
        id="tier-unknown",
    ),
    pytest.param(
        {"member": "new-1", "assume": {"segments": [987654321]}},
        400,
        "domain_error",
        "assume.segments",
        id="segment-unknown",
    ),
    pytest.param(
        {"member": "new-1", "assume": "Gold"}, 400, "invalid_input", "assume", id="assume-text"
    ),
    pytest.param(
        {"member": "new-1", "assume": {"tier": 5}},
        400,
        "invalid_input",
        "assume.tier",
        id="tier-number",
    ),
    pytest.param(
        {"member": "new-1", "assume": {"segments": "1"}},
        400,
        "invalid_input",
        "assume.segments",
        id="segments-text",
    ),
    pytest.param(
        {"member": "new-1", "assume": {"segments": ["a"]}},
        400,
        "invalid_input",
        "assume.segments",
        id="segments-of-text",
    ),
    pytest.param(
        {"member": "new-1", "assume": {"segments": [0]}},
        400,
        "invalid_input",
        "assume.segments",
        id="segments-zero",
    ),
    pytest.param(
        {"member": "new-1", "assume": {"segments": list(range(1, 102))}},
        400,
        "invalid_input",
        "assume.segments",
        id="segments-101",
    ),
    pytest.param({"member": 5}, 400, "invalid_input", "member", id="member-number"),
    pytest.param({"member": ""}, 400, "invalid_input", "member.external_id", id="member-blank"),
    pytest.param({"external_id": "a b"}, 400, "invalid_input", "external_id", id="id-space"),
    pytest.param({"total": "1e20"}, 400, "invalid_input", "total", id="total-1e20"),
    pytest.param({"total": 1e20}, 400, "invalid_input", "total", id="total-1e20-number"),
    pytest.param({"total": "123456789012345"}, 400, "invalid_input", "total", id="total-15-digits"),
    pytest.param({"total": "-1.00"}, 400, "invalid_input", "total", id="total-negative"),
    pytest.param({"total": "10.005"}, 400, "domain_error", "total", id="total-3-decimals"),
    pytest.param({"total": True}, 400, "invalid_input", "total", id="total-bool"),
    pytest.param({"total": "NaN"}, 400, "invalid_input", "total", id="total-nan"),
    pytest.param({"currency": "XYZ"}, 400, "invalid_input", "currency", id="currency-unknown"),
    pytest.param({"placed_at": "soon"}, 400, "invalid_input", "placed_at", id="placed-text"),
    pytest.param(
        {"placed_at": "2999-01-01T00:00:00Z"}, 400, "domain_error", "placed_at", id="placed-future"
    ),
    pytest.param({"lines": "abc"}, 400, "invalid_input", "lines", id="lines-text"),
    pytest.param({"lines": [None]}, 400, "invalid_input", "lines.0", id="lines-null-item"),
    pytest.param(
        {"lines": [{"sku": "a", "quantity": 0, "unit_price": "1.00"}]},
        400,
        "invalid_input",
        "lines.0.quantity",
        id="line-quantity-0",
    ),
    pytest.param(
        {"lines": [{"sku": "a", "quantity": "2", "unit_price": "1.00"}]},
        400,
        "invalid_input",
        "lines.0.quantity",
        id="line-quantity-text",
    ),
    pytest.param(
        {"lines": [{"sku": "a", "quantity": 1}]},
        400,
        "invalid_input",
        "lines.0.unit_price",
        id="line-price-missing",
    ),
    pytest.param(
        {"lines": [{"sku": "a", "quantity": 1, "unit_price": "1e30"}]},
        400,
        "invalid_input",
        "lines.0.unit_price",
        id="line-price-huge",
    ),
    pytest.param(
        {"lines": [{"sku": ["a"], "quantity": 1, "unit_price": "1.00"}]},
        400,
        "invalid_input",
        "lines.0.sku",
        id="line-sku-list",
    ),
    pytest.param({"store": "not-a-uuid"}, 400, "invalid_input", "store", id="store-not-uuid"),
    pytest.param(
        {"store": "7f1c9a6e-3f43-4c55-9d0e-1d2b3c4d5e6f"},
        400,
        "domain_error",
        "store",
        id="store-unknown",
    ),
]


def _attrs(response) -> list[str]:
    return [error["attr"] or "" for error in response.json()["errors"]]


@pytest.mark.parametrize(("change", "status", "code", "attr"), BAD_BODIES)
def test_bad_simulation_bodies_get_a_field_error_and_write_nothing(
    tenant, world, change, status, code, attr
):
    before = rows()

    response = simulate(tenant, {**order_body(), **change})

    assert_problem(response, status, code)
    # A list's own errors come as "x" or "x.non_field_errors"; items as "x.0" or "x.0.y".
    assert any(a == attr or a.startswith(f"{attr}.") for a in _attrs(response)), response.json()
    assert rows() == before


def test_a_body_that_is_not_an_object_is_refused(tenant, program):
    for body in ([], "order", 5, None):
        response = simulate(tenant, body)

        assert 400 <= response.status_code < 500, response.content
        assert_problem(response, response.status_code, response.json()["code"])


def test_a_total_too_large_once_converted_is_refused(tenant, program):
    ExchangeRate.objects.create(
        base="EUR",
        quote="USD",
        rate=Decimal("1.5"),
        as_of=timezone.now() - datetime.timedelta(days=10),
    )
    before = rows()

    response = simulate(tenant, order_body(total="9999999999.99", currency="EUR", lines=[]))

    assert_problem(response, 400, "domain_error", attr="total")
    assert rows() == before


def test_the_largest_order_the_simulator_answers_is_recorded_as_answered(tenant, program):
    campaign_make(program, name="Double")
    member_make(tenant.merchant, "cust-1")
    body = order_body(total="9999999999.99", lines=[])

    answer = simulate(tenant, body)
    recorded = post_json(tenant.client, ORDERS, {**body, "external_id": "o-huge"})

    assert answer.status_code == 200, answer.content
    assert answer.json()["points"] == 2 * 9_999_999_999
    assert recorded.status_code == 201, recorded.content
    assert recorded.json()["points_earned"] == answer.json()["points"]
    assert parts(recorded.json()["rules"]) == parts(answer.json()["rules"])


def test_another_merchants_segment_is_refused_as_if_it_did_not_exist(tenant_pair):
    a, b = tenant_pair.a, tenant_pair.b
    program_for(a.merchant)
    theirs = segment_with(b.merchant, name="Secret segment of B")
    gone = Segment.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    before = rows()

    refused = simulate(a, order_body(member="new-1", assume={"segments": [theirs.pk]}))
    unknown = simulate(a, order_body(member="new-1", assume={"segments": [gone]}))

    body = assert_problem(refused, 400, "domain_error", attr="assume.segments")
    assert_problem(unknown, 400, "domain_error", attr="assume.segments")
    assert "Secret" not in refused.content.decode()
    text = json.dumps(body).replace(f"segment {theirs.pk} ", "segment N ")
    assert text == json.dumps(unknown.json()).replace(f"segment {gone} ", "segment N ")
    assert rows() == before


@pytest.mark.parametrize("status", [MemberStatus.ANONYMISED, MemberStatus.BLOCKED])
def test_a_member_who_is_not_active_is_409(tenant, program, status):
    member = member_make(tenant.merchant, "cust-1", email="ana@example.com")
    if status == MemberStatus.ANONYMISED:
        member_anonymise(merchant=tenant.merchant, member=member)
    else:
        Member.objects.filter(pk=member.pk).update(status=status)
    before = rows()

    response = simulate(tenant, order_body())

    assert_problem(response, 409, "member_not_active", attr="member")
    assert rows() == before


def test_without_an_active_program_it_is_409(tenant):
    before = rows()

    response = simulate(tenant, order_body())

    assert_problem(response, 409, "no_active_program")
    assert rows() == before


def test_the_schema_documents_the_simulator(tenant):
    response = tenant.client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    operation = schema["paths"]["/api/v1/orders/simulate/"]["post"]
    assert {"200", "400"} <= set(operation["responses"])
    assert "application/json" in operation["requestBody"]["content"]


# -- the simulator and the order path agree, whatever the program ------------------------

DECIMALS = st.sampled_from([Decimal("0.5"), Decimal(1), Decimal("1.25"), Decimal(3)])
CATEGORY_FILTERS = st.sampled_from([[], [], ["camping"], ["kitchen"]])
CAPS = st.one_of(
    st.just(("none", 1)),
    st.tuples(st.sampled_from(["ever", "day", "month"]), st.integers(1, 2)),
)


@st.composite
def earning_rules(draw) -> dict[str, Any]:
    kind = draw(st.sampled_from(["purchase_rate", "purchase_multiplier", "purchase_bonus"]))
    cap_period, cap_count = draw(CAPS)
    terms: dict[str, Any] = {
        "kind": kind,
        "priority": draw(st.integers(1, 3)),
        "include_categories": draw(CATEGORY_FILTERS),
        "min_order_total": draw(st.sampled_from([None, Decimal(30)])),
        "cap_period": cap_period,
        "cap_count": cap_count,
    }
    if kind == "purchase_rate":
        terms["points_per_unit"] = draw(DECIMALS)
    elif kind == "purchase_multiplier":
        terms["multiplier"] = draw(st.sampled_from([Decimal("1.5"), Decimal(2), Decimal(3)]))
    else:
        terms["bonus_points"] = draw(st.sampled_from([1, 5, 40]))
    return terms


@st.composite
def campaigns(draw) -> dict[str, Any]:
    effect = draw(st.sampled_from(["multiplier", "per_unit", "order_bonus", "coupon"]))
    cap_period, cap_count = draw(CAPS)
    terms: dict[str, Any] = {
        "effect": effect,
        "priority": draw(st.integers(1, 3)),
        "stacking": draw(st.sampled_from(["stackable", "exclusive", "best"])),
        "points_budget": draw(st.sampled_from([None, 1, 15, 60])),
        "cap_period": cap_period,
        "cap_count": cap_count,
        "holdout_percent": draw(st.sampled_from([Decimal(0), Decimal(0), Decimal(0), Decimal(50)])),
        "include_categories": draw(CATEGORY_FILTERS),
        "min_order_total": draw(st.sampled_from([None, None, Decimal(25)])),
        "target": draw(st.sampled_from(["everyone", "everyone", "in", "out"])),
    }
    if effect == "multiplier":
        terms["multiplier"] = draw(st.sampled_from([Decimal("1.5"), Decimal(2), Decimal(4)]))
    elif effect == "per_unit":
        terms["points_per_unit"] = draw(DECIMALS)
    elif effect == "order_bonus":
        terms["bonus_points"] = draw(st.sampled_from([3, 10, 25]))
        terms["min_order_total"] = terms["min_order_total"] or Decimal(1)
    else:
        terms["codes"] = draw(st.integers(0, 2))
    return terms


LINE = st.tuples(
    st.sampled_from(["camping", "kitchen", "books"]),
    st.integers(1, 3),
    st.integers(1, 4000),  # cents
)


@st.composite
def orders(draw) -> tuple[Decimal, tuple[LineInput, ...]]:
    lines = draw(st.lists(LINE, min_size=1, max_size=3))
    cents = sum(quantity * price for _, quantity, price in lines)
    # Shipping added or a discount taken: lines need not add up to the total.
    total = max(0, cents + draw(st.integers(-1500, 1500)))
    return Decimal(total) / 100, tuple(
        LineInput(f"SKU-{n}", category, quantity, Decimal(price) / 100)
        for n, (category, quantity, price) in enumerate(lines)
    )


def _program_with(merchant, rule_specs: list[dict], campaign_specs: list[dict], **terms: Any):
    program = program_configure(merchant=merchant, actor=SYSTEM, **terms)
    if program.tiers_enabled:
        # Gold is reached within an example's orders: the later ones earn with its multiplier.
        Tier.objects.create(program=program, name="Member", threshold=0)
        Tier.objects.create(program=program, name="Gold", threshold=40, multiplier=Decimal("1.5"))
    member = member_make(merchant)
    inside = segment_with(merchant, member, name="In")
    outside = segment_with(merchant, name="Out")
    for n, spec in enumerate(rule_specs):
        rule_make(program, f"Rule {n}", **spec)
    made = []
    for n, spec in enumerate(campaign_specs):
        spec = dict(spec)
        target = spec.pop("target")
        codes = spec.pop("codes", 0)
        segments = {"everyone": None, "in": [inside], "out": [outside]}[target]
        campaign = campaign_make(program, name=f"Campaign {n}", segments=segments, **spec)
        if codes:
            coupon_codes_add(campaign=campaign, codes=[f"C{n}-{i}" for i in range(codes)])
        made.append(campaign)
    return member, made


@pytest.fixture
def shop():
    """One merchant for every example (each example's program, member, rules and
    campaigns are made in a savepoint and undone)."""
    return program_merchant()[0]


@settings(
    max_examples=40,
    deadline=None,
    # ``shop`` is shared by the examples on purpose: it is only read.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    terms=st.fixed_dictionaries(
        {
            "base_earn_rate": st.sampled_from([Decimal(0), Decimal("0.1"), Decimal(1)]),
            "rounding": st.sampled_from(["down", "half_up"]),
            "tiers_enabled": st.booleans(),
        }
    ),
    rule_specs=st.lists(earning_rules(), max_size=3),
    campaign_specs=st.lists(campaigns(), min_size=1, max_size=3),
    order_specs=st.lists(orders(), min_size=3, max_size=5),
)
def test_the_simulation_equals_what_the_order_then_earns(
    shop, terms, rule_specs, campaign_specs, order_specs
):
    # Each example in a savepoint of its own, undone: examples never see each other.
    with transaction.atomic():
        member, made = _program_with(shop, rule_specs, campaign_specs, **terms)
        placed_at = timezone.now() - datetime.timedelta(minutes=30)
        for total, lines in order_specs:
            data = OrderInput(
                external_id=next_id("order"),
                member_external_id=member.external_id,
                total=total,
                currency="USD",
                placed_at=placed_at,
                lines=lines,
            )

            simulation = order_simulate(merchant=shop, data=data)
            order = order_record(merchant=shop, data=data, actor=Actor.system("test")).obj

            predicted = simulation.evaluation
            for skip in predicted.skipped:
                event(f"{skip.kind} skipped: {skip.reason}")
            if predicted.campaign_parts:
                event("a campaign gave")
            if simulation.tier is not None:
                event(f"tier {simulation.tier.name}")
            assert order.points_earned == predicted.points
            assert parts(order.explanation) == parts(predicted.explanation())
            for expected, got in zip(predicted.parts, order.explanation, strict=True):
                assert got["label"].startswith(expected.label)
                assert (got["label"] == expected.label) != expected.coupon
        for campaign in made:
            if campaign.points_budget is not None:
                assert spent(campaign) <= campaign.points_budget
        transaction.set_rollback(True)
