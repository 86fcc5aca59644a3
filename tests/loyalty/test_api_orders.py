"""The store API's order endpoints, through the real client and a merchant's Bearer key:
``POST /api/v1/orders/`` and ``POST /api/v1/orders/{external_id}/refunds/``; and the bodies
no POST endpoint of the loyalty API accepts."""

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.actors import SYSTEM
from loyalty.models import (
    EarningRule,
    ExchangeRate,
    LedgerEntry,
    Member,
    MemberStatus,
    Order,
    Refund,
)
from loyalty.services import members
from merchants.models import Scope
from tests.conftest import assert_not_found, assert_problem, make_tenant
from tests.loyalty.apihelpers import db_state, post_json, program_for
from tests.loyalty.factories import member_make
from tests.merchants.factories import MerchantFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
DAY = datetime.timedelta(days=1)


def refunds_url(order_external_id: str) -> str:
    return f"{ORDERS}{order_external_id}/refunds/"


def order_body(
    external_id: str = "o-1",
    member: Any = "cust-1",
    total: Any = "120.00",
    currency: str = "USD",
    placed_at: datetime.datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "member": member,
        "total": total,
        "currency": currency,
        "placed_at": (placed_at or timezone.now() - datetime.timedelta(hours=1)).isoformat(),
        **extra,
    }


def post_order(tenant, **fields):
    return post_json(tenant.client, ORDERS, order_body(**fields))


def post_refund(tenant, order_external_id: str, external_id: str, amount: Any, **extra):
    return post_json(
        tenant.client,
        refunds_url(order_external_id),
        {"external_id": external_id, "amount": amount, **extra},
    )


def member_of(tenant, external_id: str = "cust-1") -> Member:
    return Member.objects.get(merchant=tenant.merchant, external_id=external_id)


# -- POST /orders/ -----------------------------------------------------------------------


def test_order_earns_points_that_stay_pending_for_the_return_window(tenant, program):
    placed_at = timezone.now() - datetime.timedelta(hours=2)

    response = post_order(tenant, total="120.00", placed_at=placed_at)

    assert response.status_code == 201, response.content
    assert "Idempotent-Replayed" not in response
    body = response.json()
    assert body["external_id"] == "o-1"
    assert body["member"] == "cust-1"
    assert body["points_earned"] == 120
    assert body["points_status"] == "pending"
    assert parse_datetime(body["available_at"]) == placed_at + 14 * DAY
    assert parse_datetime(body["placed_at"]) == placed_at
    assert body["rules"] == [
        {"rule_id": None, "campaign_id": None, "label": "Base 1 per unit", "points": "120"}
    ]
    assert (Decimal(body["total"]), body["currency"]) == (Decimal("120"), "USD")
    assert (Decimal(body["program_total"]), body["program_currency"]) == (Decimal("120"), "USD")
    assert body["rate_used"] is None
    assert (Decimal(body["refunded_total"]), body["points_reversed"]) == (0, 0)
    member = member_of(tenant)
    assert (member.points_balance, member.pending_points, member.lifetime_points) == (0, 120, 120)


def test_order_points_are_available_at_once_without_a_return_window(tenant):
    program_for(tenant.merchant, pending_days=0)

    body = post_order(tenant, total="35.00").json()

    assert body["points_earned"] == 35
    assert body["points_status"] == "available"
    assert parse_datetime(body["available_at"]) <= timezone.now()
    assert member_of(tenant).points_balance == 35


def test_order_placed_before_the_return_window_is_available_at_once(tenant, program):
    before = timezone.now()

    body = post_order(tenant, total="50.00", placed_at=timezone.now() - 20 * DAY).json()

    assert body["points_status"] == "available"
    assert before <= parse_datetime(body["available_at"]) <= timezone.now()
    member = member_of(tenant)
    assert (member.points_balance, member.pending_points) == (50, 0)


def test_order_of_zero_earns_nothing(tenant, program):
    response = post_order(tenant, total="0.00")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["points_earned"], body["points_status"], body["available_at"]) == (0, "none", None)
    assert not LedgerEntry.objects.exists()


def test_order_explains_the_rules_that_gave_points(tenant, program):
    rate = EarningRule.objects.create(
        program=program,
        name="Camping: +1 per unit",
        kind="purchase_rate",
        points_per_unit=Decimal("1"),
        include_categories=["camping"],
    )
    bonus = EarningRule.objects.create(
        program=program,
        name="Big basket",
        kind="purchase_bonus",
        bonus_points=10,
        min_order_total=Decimal("100"),
        priority=200,
    )
    lines = [
        {"sku": "TENT-2P", "category": "camping", "quantity": 1, "unit_price": "100.00"},
        {"sku": "MUG", "category": "kitchen", "quantity": 2, "unit_price": "10.00"},
    ]

    response = post_order(tenant, total="120.00", lines=lines)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["points_earned"] == 120 + 100 + 10
    assert body["rules"] == [
        {"rule_id": None, "campaign_id": None, "label": "Base 1 per unit", "points": "120"},
        {"rule_id": rate.pk, "campaign_id": None, "label": "Camping: +1 per unit", "points": "100"},
        {"rule_id": bonus.pk, "campaign_id": None, "label": "Big basket", "points": "10"},
    ]
    order = Order.objects.get(merchant=tenant.merchant, external_id="o-1")
    assert sorted(order.lines.values_list("sku", "quantity")) == [("MUG", 2), ("TENT-2P", 1)]


def test_order_creates_an_unknown_member_from_the_object_given(tenant, program):
    member = {
        "external_id": "new-1",
        "email": "nia@example.com",
        "first_name": "Nia",
        "country": "BR",
        "marketing_consent": True,
    }

    response = post_order(tenant, member=member)

    assert response.status_code == 201, response.content
    assert response.json()["member"] == "new-1"
    created = member_of(tenant, "new-1")
    assert (created.email, created.first_name, created.country.code) == (
        "nia@example.com",
        "Nia",
        "BR",
    )
    assert created.marketing_consent is True
    assert created.pending_points == 120


def test_order_creates_an_unknown_member_from_its_external_id(tenant, program):
    response = post_order(tenant, member="new-2")

    assert response.status_code == 201, response.content
    created = member_of(tenant, "new-2")
    assert (created.email, created.pending_points) == ("", 120)


def test_order_leaves_a_known_members_profile_as_it_is(tenant, program):
    member_make(tenant.merchant, "cust-1", email="old@example.com", first_name="Old")

    response = post_order(
        tenant, member={"external_id": "cust-1", "email": "new@example.com", "first_name": "New"}
    )

    assert response.status_code == 201, response.content
    member = member_of(tenant)
    assert (member.email, member.first_name, member.pending_points) == (
        "old@example.com",
        "Old",
        120,
    )
    assert Member.objects.count() == 1


def test_same_order_again_is_replayed_and_earns_nothing_more(tenant, program):
    body = order_body(member={"external_id": "cust-1", "email": "a@example.com"})
    first = post_json(tenant.client, ORDERS, body)

    again = post_json(tenant.client, ORDERS, body)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Order.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert member_of(tenant).pending_points == 120


def test_same_order_external_id_with_another_body_is_409_and_changes_nothing(tenant, program):
    body = order_body()
    post_json(tenant.client, ORDERS, body)
    before = db_state()

    response = post_json(tenant.client, ORDERS, {**body, "total": "121.00"})

    assert_problem(response, 409, "idempotency_conflict", attr="external_id")
    assert db_state() == before


def test_order_in_another_currency_is_converted_at_the_stored_rate(tenant, program):
    ExchangeRate.objects.create(
        base="EUR", quote="USD", rate=Decimal("1.1"), as_of=timezone.now() - 10 * DAY
    )

    response = post_order(tenant, total="100.00", currency="EUR")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (Decimal(body["total"]), body["currency"]) == (Decimal("100"), "EUR")
    assert (Decimal(body["program_total"]), body["program_currency"]) == (Decimal("110"), "USD")
    assert Decimal(body["rate_used"]) == Decimal("1.1")
    assert body["points_earned"] == 110


@pytest.mark.parametrize(
    ("currency", "total", "shown", "program_shown"),
    [
        ("USD", "120.5", "120.50", "120.50"),
        ("JPY", "1200", "1200", "9.60"),
        ("KWD", "3", "3.000", "9.90"),
    ],
)
def test_amounts_are_answered_with_their_currencys_own_decimals(
    tenant, program, currency, total, shown, program_shown
):
    ExchangeRate.objects.create(
        base="JPY", quote="USD", rate=Decimal("0.008"), as_of=timezone.now() - 10 * DAY
    )
    ExchangeRate.objects.create(
        base="KWD", quote="USD", rate=Decimal("3.3"), as_of=timezone.now() - 10 * DAY
    )

    order = post_order(tenant, total=total, currency=currency).json()
    refund = post_refund(tenant, "o-1", "r-1", total).json()

    assert (order["total"], order["program_total"]) == (shown, program_shown)
    assert (order["refunded_total"], refund["amount"]) == (
        f"{0:.{len(shown.partition('.')[2])}f}",
        shown,
    )


def test_order_conversion_uses_the_inverse_rate_when_only_that_is_stored(tenant, program):
    ExchangeRate.objects.create(
        base="USD", quote="EUR", rate=Decimal("0.8"), as_of=timezone.now() - 10 * DAY
    )

    body = post_order(tenant, total="100.00", currency="EUR").json()

    assert Decimal(body["rate_used"]) == Decimal("1.25")
    assert Decimal(body["program_total"]) == Decimal("125")
    assert body["points_earned"] == 125


def test_order_conversion_uses_the_rate_known_when_it_was_placed(tenant, program):
    now = timezone.now()
    ExchangeRate.objects.create(base="EUR", quote="USD", rate=Decimal("1.1"), as_of=now - 10 * DAY)
    ExchangeRate.objects.create(base="EUR", quote="USD", rate=Decimal("1.3"), as_of=now - DAY)

    body = post_order(tenant, total="100.00", currency="EUR", placed_at=now - 5 * DAY).json()

    assert Decimal(body["rate_used"]) == Decimal("1.1")


@pytest.mark.parametrize(
    "rates",
    [
        pytest.param([], id="no-rate"),
        pytest.param([("EUR", "GBP", "-10")], id="other-pair"),
        pytest.param([("EUR", "USD", "+1")], id="only-a-later-rate"),
    ],
)
def test_order_without_an_exchange_rate_is_422_and_changes_nothing(tenant, program, rates):
    for base, quote, days in rates:
        ExchangeRate.objects.create(
            base=base, quote=quote, rate=Decimal("1.1"), as_of=timezone.now() + int(days) * DAY
        )
    before = db_state()

    response = post_order(tenant, total="100.00", currency="EUR", member={"external_id": "new"})

    assert_problem(response, 422, "exchange_rate_missing", attr="currency")
    assert db_state() == before


def test_order_without_an_active_program_is_409_and_changes_nothing(tenant):
    before = db_state()

    response = post_order(tenant)

    assert_problem(response, 409, "no_active_program")
    assert db_state() == before


def test_order_for_a_blocked_member_is_409_and_changes_nothing(tenant, program):
    member_make(tenant.merchant, "cust-1")
    Member.objects.filter(merchant=tenant.merchant).update(status=MemberStatus.BLOCKED)
    before = db_state()

    response = post_order(tenant)

    assert_problem(response, 409, "member_not_active", attr="member")
    assert db_state() == before


def test_order_for_an_unknown_store_is_refused(tenant, program):
    before = db_state()

    response = post_order(tenant, store=str(uuid.uuid4()))

    assert_problem(response, 400, "domain_error", attr="store")
    assert db_state() == before


def test_post_order_query_count_is_pinned(tenant, program, django_assert_max_num_queries):
    for n in range(3):
        EarningRule.objects.create(
            program=program, name=f"bonus {n}", kind="purchase_bonus", bonus_points=1
        )
    member_make(tenant.merchant, "cust-1")
    tenant.client.get("/api/v1/members/cust-1/")  # the key's last_used_at is touched
    lines = [
        {"sku": f"SKU-{n}", "category": "c", "quantity": 1, "unit_price": "10.00"}
        for n in range(10)
    ]

    # Ten lines and three rules cost what one line and one rule cost: key, member
    # (locked), the configuration read once per version (program, rules, campaigns),
    # order, lines (one insert), member balances, ledger entry, lot, rule awards (one
    # insert); and the test transaction's savepoint pair.
    with django_assert_max_num_queries(13):
        response = post_order(tenant, total="100.00", lines=lines)

    assert response.status_code == 201, response.content
    assert response.json()["points_earned"] == 103


def test_capped_rules_do_not_cost_a_query_each(tenant, program, django_assert_max_num_queries):
    for n in range(5):
        EarningRule.objects.create(
            program=program,
            name=f"daily {n}",
            kind="purchase_bonus",
            bonus_points=1,
            cap_period="day",
        )
    member_make(tenant.merchant, "cust-1")
    tenant.client.get("/api/v1/members/cust-1/")  # the key's last_used_at is touched

    # What an order costs with plain rules (see above), plus one query for all the caps.
    with django_assert_max_num_queries(13):
        response = post_order(tenant, total="100.00")

    assert response.status_code == 201, response.content


def test_replayed_order_query_count_is_pinned(tenant, program, django_assert_max_num_queries):
    body = order_body()
    post_json(tenant.client, ORDERS, body)

    # A replay is found by the failing INSERT (no lookup on every order's path), so it
    # costs about what a new order does; it must still stay bounded.
    with django_assert_max_num_queries(12):
        response = post_json(tenant.client, ORDERS, body)

    assert response.status_code == 200


MISSING = object()

ORDER_BAD_BODIES = [
    *(
        pytest.param(field, MISSING, 400, "invalid_input", field, id=f"{field}-missing")
        for field in ("external_id", "member", "total", "currency", "placed_at")
    ),
    pytest.param("external_id", "has space", 400, "invalid_input", "external_id", id="id-space"),
    pytest.param("external_id", "x" * 200, 400, "invalid_input", "external_id", id="id-200"),
    pytest.param("external_id", "", 400, "invalid_input", "external_id", id="id-blank"),
    pytest.param("external_id", "a/b", 400, "invalid_input", "external_id", id="id-slash"),
    pytest.param("member", "", 400, "invalid_input", "member.external_id", id="member-blank"),
    pytest.param("member", "a b", 400, "invalid_input", "member.external_id", id="member-space"),
    pytest.param("member", 5, 400, "invalid_input", "member", id="member-number"),
    pytest.param("member", ["m"], 400, "invalid_input", "member", id="member-list"),
    pytest.param("member", {}, 400, "invalid_input", "member.external_id", id="member-empty"),
    pytest.param(
        "member",
        {"external_id": "new", "email": "nope"},
        400,
        "invalid_input",
        "member.email",
        id="member-bad-email",
    ),
    pytest.param("total", "-1.00", 400, "invalid_input", "total", id="total-negative"),
    pytest.param("total", "1e20", 400, "invalid_input", "total", id="total-1e20-text"),
    pytest.param("total", 1e20, 400, "invalid_input", "total", id="total-1e20-number"),
    pytest.param("total", "123456789012345", 400, "invalid_input", "total", id="total-15-digits"),
    pytest.param("total", "10.00001", 400, "invalid_input", "total", id="total-5-decimals"),
    pytest.param("total", "10.005", 400, "domain_error", "total", id="total-usd-3-decimals"),
    pytest.param("total", "abc", 400, "invalid_input", "total", id="total-text"),
    pytest.param("total", "NaN", 400, "invalid_input", "total", id="total-nan"),
    pytest.param("total", "Infinity", 400, "invalid_input", "total", id="total-infinity"),
    pytest.param("total", True, 400, "invalid_input", "total", id="total-bool"),
    pytest.param("total", {"amount": 1}, 400, "invalid_input", "total", id="total-object"),
    pytest.param("currency", "XYZ", 400, "invalid_input", "currency", id="currency-unknown"),
    pytest.param("currency", "usd", 400, "invalid_input", "currency", id="currency-lowercase"),
    pytest.param("currency", "US", 400, "invalid_input", "currency", id="currency-short"),
    pytest.param("currency", 840, 400, "invalid_input", "currency", id="currency-number"),
    pytest.param("currency", None, 400, "invalid_input", "currency", id="currency-null"),
    pytest.param("placed_at", "yesterday", 400, "invalid_input", "placed_at", id="placed-text"),
    pytest.param("placed_at", 1700000000, 400, "invalid_input", "placed_at", id="placed-epoch"),
    pytest.param("placed_at", "+30d", 400, "domain_error", "placed_at", id="placed-next-month"),
    pytest.param(
        "placed_at", "9999-12-31T23:59:59Z", 400, "domain_error", "placed_at", id="placed-9999"
    ),
    pytest.param(
        "placed_at",
        "9999-12-31T23:59:59-05:00",
        400,
        "invalid_input",
        "placed_at",
        id="placed-beyond-9999",
    ),
    pytest.param("lines", "abc", 400, "invalid_input", "lines", id="lines-text"),
    pytest.param("lines", {"sku": "a"}, 400, "invalid_input", "lines", id="lines-object"),
    pytest.param("lines", [None], 400, "invalid_input", "lines.0", id="lines-null-item"),
    pytest.param(
        "lines",
        [{"sku": "a", "quantity": 0, "unit_price": "1.00"}],
        400,
        "invalid_input",
        "lines.0.quantity",
        id="line-quantity-0",
    ),
    pytest.param(
        "lines",
        [{"sku": "a", "quantity": 1.5, "unit_price": "1.00"}],
        400,
        "invalid_input",
        "lines.0.quantity",
        id="line-quantity-fraction",
    ),
    pytest.param(
        "lines",
        [{"sku": "a", "quantity": 1, "unit_price": "-1.00"}],
        400,
        "invalid_input",
        "lines.0.unit_price",
        id="line-price-negative",
    ),
    pytest.param(
        "lines",
        [{"sku": "a", "quantity": 1}],
        400,
        "invalid_input",
        "lines.0.unit_price",
        id="line-price-missing",
    ),
    pytest.param(
        "lines",
        [{"sku": "a\u0000", "quantity": 1, "unit_price": "1"}],
        400,
        "invalid_input",
        "lines.0.sku",
        id="line-sku-nul",
    ),
    pytest.param(
        "lines",
        [{"quantity": 1, "unit_price": "1"}] * 1001,
        400,
        "invalid_input",
        "lines",
        id="lines-1001",
    ),
    pytest.param("store", "not-a-uuid", 400, "invalid_input", "store", id="store-not-uuid"),
]


def _attrs(response) -> list[str]:
    return [error["attr"] or "" for error in response.json()["errors"]]


@pytest.mark.parametrize(("field", "value", "status", "code", "attr"), ORDER_BAD_BODIES)
def test_bad_order_bodies_get_a_field_error_and_change_nothing(
    tenant, program, field, value, status, code, attr
):
    post_order(tenant, external_id="existing", member={"external_id": "cust-1"})
    before = db_state()
    body = order_body(external_id="o-2")
    if value is MISSING:
        del body[field]
    elif value == "+30d":
        body[field] = (timezone.now() + 30 * DAY).isoformat()
    else:
        body[field] = value

    response = post_json(tenant.client, ORDERS, body)

    assert_problem(response, status, code)
    # A list's own errors come as "lines" or "lines.non_field_errors"; items as "lines.0.x".
    assert any(a == attr or a.startswith(f"{attr}.non_field") for a in _attrs(response)), (
        response.json()
    )
    assert db_state() == before


def test_jpy_order_with_decimals_is_refused(tenant, program):
    ExchangeRate.objects.create(
        base="USD", quote="JPY", rate=Decimal("150"), as_of=timezone.now() - 10 * DAY
    )
    before = db_state()

    response = post_order(tenant, total="10.5", currency="JPY")

    assert_problem(response, 400, "domain_error", attr="total")
    assert db_state() == before
    ok = post_order(tenant, total="1500", currency="JPY")
    assert ok.status_code == 201, ok.content
    assert ok.json()["points_earned"] == 10


def test_a_read_only_key_cannot_record_orders(tenant, program):
    reader = make_tenant(tenant.merchant, scopes=(Scope.READ,))

    assert_problem(post_json(reader.client, ORDERS, order_body()), 403, "insufficient_scope")
    assert not Order.objects.exists()


def test_order_whose_converted_total_is_too_large_is_refused(tenant, program):
    ExchangeRate.objects.create(
        base="EUR", quote="USD", rate=Decimal("1.5"), as_of=timezone.now() - 10 * DAY
    )
    before = db_state()

    response = post_order(tenant, total="9999999999.99", currency="EUR")

    assert 400 <= response.status_code < 500, response.content
    assert_problem(response, response.status_code, response.json()["code"])
    assert db_state() == before


def test_order_placed_in_year_one_is_never_a_server_error():
    tenant = make_tenant(MerchantFactory(live=True, timezone_name="America/New_York"))
    program = program_for(tenant.merchant)
    EarningRule.objects.create(
        program=program, name="Daily", kind="purchase_bonus", bonus_points=5, cap_period="day"
    )

    response = post_json(
        tenant.client, ORDERS, {**order_body(), "placed_at": "0001-01-01T00:00:00Z"}
    )

    assert response.status_code in (201, 400, 422), response.content


# -- POST /orders/{external_id}/refunds/ -------------------------------------------------


@pytest.fixture
def order(tenant, program):
    """An order of 100.00 USD that earned 100 points, pending."""
    response = post_order(tenant, total="100.00")
    assert response.status_code == 201
    return Order.objects.get(merchant=tenant.merchant, external_id="o-1")


def test_partial_refund_takes_back_points_in_proportion(tenant, order):
    response = post_refund(tenant, "o-1", "r-1", "30.00")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["external_id"], body["order"], body["currency"]) == ("r-1", "o-1", "USD")
    assert Decimal(body["amount"]) == Decimal("30")
    assert (body["points_reversed"], body["shortfall"]) == (30, 0)
    member = member_of(tenant)
    assert (member.points_balance, member.pending_points, member.lifetime_points) == (0, 70, 70)
    order.refresh_from_db()
    assert (order.refunded_total, order.points_reversed) == (Decimal("30"), 30)


def test_refunds_adding_up_to_the_total_take_back_everything(tenant, order):
    post_refund(tenant, "o-1", "r-1", "30.00")

    body = post_refund(tenant, "o-1", "r-2", "70.00", currency="USD").json()

    assert body["points_reversed"] == 70
    member = member_of(tenant)
    assert (member.points_balance, member.pending_points, member.lifetime_points) == (0, 0, 0)


def test_full_refund_at_once_takes_back_everything(tenant, order):
    body = post_refund(tenant, "o-1", "r-1", "100.00").json()

    assert body["points_reversed"] == 100
    assert member_of(tenant).pending_points == 0


def test_partial_refunds_round_so_the_total_is_exact(tenant, program):
    post_order(tenant, external_id="o-3", total="3.00")

    first = post_refund(tenant, "o-3", "r-1", "1.50").json()
    second = post_refund(tenant, "o-3", "r-2", "1.50").json()

    assert first["points_reversed"] + second["points_reversed"] == 3
    assert member_of(tenant).pending_points == 0


def test_same_refund_again_is_replayed_and_takes_nothing_more(tenant, order):
    first = post_refund(tenant, "o-1", "r-1", "30.00")

    again = post_refund(tenant, "o-1", "r-1", "30.00")

    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Refund.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REVERSE).count() == 1
    assert member_of(tenant).pending_points == 70


def test_same_refund_external_id_with_another_body_is_409(tenant, order):
    post_refund(tenant, "o-1", "r-1", "30.00")
    post_order(tenant, external_id="o-2", total="50.00")
    before = db_state()

    other_amount = post_refund(tenant, "o-1", "r-1", "31.00")
    other_order = post_refund(tenant, "o-2", "r-1", "30.00")

    assert_problem(other_amount, 409, "idempotency_conflict", attr="external_id")
    assert_problem(other_order, 409, "idempotency_conflict", attr="external_id")
    assert db_state() == before


def test_refunds_beyond_the_order_total_are_422_and_change_nothing(tenant, order):
    post_refund(tenant, "o-1", "r-1", "60.00")
    before = db_state()

    response = post_refund(tenant, "o-1", "r-2", "40.01")

    assert_problem(response, 422, "refund_exceeds_order", attr="amount")
    assert db_state() == before


def test_refund_in_another_currency_is_refused(tenant, order):
    before = db_state()

    response = post_refund(tenant, "o-1", "r-1", "10.00", currency="EUR")

    assert_problem(response, 400, "domain_error", attr="currency")
    assert db_state() == before


def test_refund_of_an_unknown_order_is_404(tenant, program):
    response = post_refund(tenant, "nope", "r-1", "10.00")

    assert_not_found(response)
    assert not Refund.objects.exists()


def test_refund_after_the_points_were_spent_reports_the_shortfall(tenant):
    program_for(tenant.merchant, pending_days=0)
    post_order(tenant, total="100.00")
    member = member_of(tenant)
    members.member_adjust_points(
        merchant=tenant.merchant, member=member, points=-60, reason="spent", actor=SYSTEM
    )

    response = post_refund(tenant, "o-1", "r-1", "100.00")

    assert response.status_code == 201, response.content
    assert (response.json()["points_reversed"], response.json()["shortfall"]) == (40, 60)
    member.refresh_from_db()
    assert (member.points_balance, member.pending_points) == (0, 0)
    assert member.has_refund_shortfall
    assert tenant.client.get("/api/v1/members/cust-1/").json()["points_balance"] == 0


def test_refund_after_everything_was_spent_floors_the_balance_at_zero(tenant):
    program_for(tenant.merchant, pending_days=0)
    post_order(tenant, total="100.00")
    response = post_json(
        tenant.client, "/api/v1/members/cust-1/adjustments/", {"points": -100, "reason": "spent"}
    )
    assert response.status_code == 201

    body = post_refund(tenant, "o-1", "r-1", "100.00").json()

    assert (body["points_reversed"], body["shortfall"]) == (0, 100)
    assert member_of(tenant).points_balance == 0
    reversal = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REVERSE)
    assert (reversal.points, reversal.balance_after, reversal.shortfall) == (0, 0, 100)


REFUND_BAD_BODIES = [
    pytest.param({}, 400, "invalid_input", "external_id", id="empty"),
    pytest.param({"external_id": "r-9"}, 400, "invalid_input", "amount", id="amount-missing"),
    pytest.param({"amount": "1.00"}, 400, "invalid_input", "external_id", id="id-missing"),
    pytest.param(
        {"external_id": "r 9", "amount": "1.00"}, 400, "invalid_input", "external_id", id="id-sp"
    ),
    pytest.param(
        {"external_id": "r" * 200, "amount": "1.00"},
        400,
        "invalid_input",
        "external_id",
        id="id-200",
    ),
    pytest.param(
        {"external_id": "r-9", "amount": "-5.00"}, 400, "invalid_input", "amount", id="negative"
    ),
    pytest.param({"external_id": "r-9", "amount": "0"}, 400, "domain_error", "amount", id="zero"),
    pytest.param(
        {"external_id": "r-9", "amount": "1e20"}, 400, "invalid_input", "amount", id="1e20"
    ),
    pytest.param(
        {"external_id": "r-9", "amount": "123456789012345"},
        400,
        "invalid_input",
        "amount",
        id="15-digits",
    ),
    pytest.param(
        {"external_id": "r-9", "amount": "1.005"}, 400, "domain_error", "amount", id="usd-3-dp"
    ),
    pytest.param(
        {"external_id": "r-9", "amount": "abc"}, 400, "invalid_input", "amount", id="text"
    ),
    pytest.param({"external_id": "r-9", "amount": None}, 400, "invalid_input", "amount", id="null"),
    pytest.param(
        {"external_id": "r-9", "amount": "1.00", "currency": "XYZ"},
        400,
        "invalid_input",
        "currency",
        id="currency-unknown",
    ),
    pytest.param(
        {"external_id": "r-9", "amount": "1.00", "currency": "usd"},
        400,
        "invalid_input",
        "currency",
        id="currency-lowercase",
    ),
]


@pytest.mark.parametrize(("body", "status", "code", "attr"), REFUND_BAD_BODIES)
def test_bad_refund_bodies_get_a_field_error_and_change_nothing(
    tenant, order, body, status, code, attr
):
    before = db_state()

    response = post_json(tenant.client, refunds_url("o-1"), body)

    assert_problem(response, status, code, attr=attr)
    assert db_state() == before


def test_a_nul_byte_in_the_refund_url_is_not_a_server_error(tenant, program):
    response = post_refund(tenant, "a%00b", "r-1", "1.00")

    assert response.status_code in (400, 404), response.content


# -- tenant isolation --------------------------------------------------------------------


@pytest.fixture
def pair(tenant_pair):
    for tenant in (tenant_pair.a, tenant_pair.b):
        program_for(tenant.merchant)
    return tenant_pair


def test_another_merchants_order_cannot_be_refunded(pair):
    assert post_order(pair.a, total="100.00").status_code == 201
    before = db_state()

    response = post_refund(pair.b, "o-1", "r-1", "10.00")

    assert_not_found(response)
    assert db_state() == before


def test_same_order_external_id_at_another_merchant_is_its_own_order(pair):
    first = post_order(pair.a, total="100.00", currency="USD")

    response = post_order(pair.b, total="40.00", currency="EUR")

    assert first.status_code == 201
    assert response.status_code == 201, response.content  # not a conflict, not a replay
    assert "Idempotent-Replayed" not in response
    assert response.json()["points_earned"] == 40
    order_a = Order.objects.get(merchant=pair.a.merchant, external_id="o-1")
    order_b = Order.objects.get(merchant=pair.b.merchant, external_id="o-1")
    assert (order_a.total, order_a.member.merchant) == (Decimal("100"), pair.a.merchant)
    assert (order_b.total, order_b.member.merchant) == (Decimal("40"), pair.b.merchant)
    assert member_of(pair.a).pending_points == 100
    assert member_of(pair.b).pending_points == 40
    # Each merchant refunds its own order.
    assert post_refund(pair.b, "o-1", "r-1", "40.00").json()["points_reversed"] == 40
    assert member_of(pair.a).pending_points == 100


def test_another_merchants_rules_and_rates_do_not_apply(pair):
    EarningRule.objects.create(
        program=pair.a.merchant.programs.get(),
        name="A's bonus",
        kind="purchase_bonus",
        bonus_points=50,
    )

    body = post_order(pair.b, total="10.00", currency="EUR").json()

    assert body["points_earned"] == 10
    assert [rule["rule_id"] for rule in body["rules"]] == [None]


# -- bodies no POST endpoint accepts -----------------------------------------------------


POST_URLS = [
    pytest.param("/api/v1/members/", id="members"),
    pytest.param("/api/v1/members/cust-1/adjustments/", id="adjustments"),
    pytest.param(ORDERS, id="orders"),
    pytest.param(refunds_url("o-1"), id="refunds"),
    pytest.param("/api/v1/activities/", id="activities"),
]

RAW_BODIES = [
    pytest.param(b'{"external_id": ', 400, "parse_error", id="truncated-json"),
    pytest.param(b"{'external_id': 'x'}", 400, "parse_error", id="single-quotes"),
    pytest.param(b'{"total": NaN}', 400, "parse_error", id="nan"),
    pytest.param(b"\xff\xfe\x00", 400, "parse_error", id="not-utf8"),
    pytest.param(b"[]", 400, "invalid_input", id="empty-list"),
    pytest.param(b'[{"external_id": "x"}]', 400, "invalid_input", id="list-of-object"),
    pytest.param(b"null", 400, "invalid_input", id="null"),
    pytest.param(b'"text"', 400, "invalid_input", id="string"),
    pytest.param(b"42", 400, "invalid_input", id="number"),
    pytest.param(b"", 400, "invalid_input", id="empty-body"),
    pytest.param(b"{}", 400, "invalid_input", id="empty-object"),
]


@pytest.fixture
def world(tenant, program):
    """A member and an order, so that each endpoint answers for its body, not a 404."""
    assert post_order(tenant, total="100.00").status_code == 201
    return tenant


@pytest.mark.parametrize("url", POST_URLS)
@pytest.mark.parametrize(("raw", "status", "code"), RAW_BODIES)
def test_bodies_that_are_not_a_json_object_get_a_problem_and_change_nothing(
    world, url, raw, status, code
):
    before = db_state()

    response = world.client.post(url, raw, content_type="application/json")

    assert_problem(response, status, code)
    assert db_state() == before


@pytest.mark.parametrize("url", POST_URLS)
def test_form_encoded_bodies_are_415(world, url):
    before = db_state()

    response = world.client.post(
        url, "external_id=x", content_type="application/x-www-form-urlencoded"
    )

    assert_problem(response, 415, "unsupported_media_type")
    assert db_state() == before


@pytest.mark.parametrize("url", POST_URLS)
@pytest.mark.parametrize("idempotency_key", [None, "deep-1"])
def test_deeply_nested_json_is_a_parse_error(world, url, idempotency_key):
    before = db_state()
    extra = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}

    response = world.client.post(
        url, b"[" * 100_000 + b"]" * 100_000, content_type="application/json", **extra
    )

    assert_problem(response, 400, "parse_error")
    assert db_state() == before


@pytest.mark.parametrize("url", POST_URLS)
def test_a_too_large_body_is_a_client_error(world, url):
    before = db_state()
    body = {**order_body(), "data": {"blob": "x" * 3_000_000}}

    response = post_json(world.client, url, body)

    assert response.status_code in (400, 413), response.content
    assert db_state() == before
