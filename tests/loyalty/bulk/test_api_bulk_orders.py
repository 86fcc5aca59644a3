"""``POST /api/v1/orders/bulk/``: up to 1,000 orders a call, each idempotent and answered
on its own, written set-based."""

import threading

import pytest
from django.db import connection

from loyalty.models import LedgerEntry, Member, Order
from tests.conftest import assert_problem
from tests.loyalty.apihelpers import db_state, post_json
from tests.loyalty.factories import assert_ledger_consistent, member_make
from tests.loyalty.test_api_orders import order_body

pytestmark = pytest.mark.django_db

BULK = "/api/v1/orders/bulk/"


def bulk(tenant, orders):
    return post_json(tenant.client, BULK, {"orders": orders})


def test_each_order_is_recorded_and_answered_in_order(tenant, program):
    member_make(tenant.merchant, "cust-known", points=5)
    response = bulk(
        tenant,
        [
            order_body("b-1", member="cust-known", total="10.00"),
            order_body("b-2", member={"external_id": "cust-new", "email": "n@example.com"}),
            order_body("b-3", member="cust-other", total="7.50"),
        ],
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [
        (0, "created"),
        (1, "created"),
        (2, "created"),
    ]
    assert [r["order"]["external_id"] for r in results] == ["b-1", "b-2", "b-3"]
    assert [r["order"]["points_earned"] for r in results] == [10, 120, 7]
    new = Member.objects.get(merchant=tenant.merchant, external_id="cust-new")
    assert new.email == "n@example.com"
    for member in Member.objects.filter(merchant=tenant.merchant):
        assert_ledger_consistent(member)


def test_bulk_earns_exactly_what_single_orders_earn(tenant, program):
    bodies = [order_body(f"s-{n}", member=f"c-{n % 3}", total=f"{10 + n}.25") for n in range(9)]
    for body in bodies:
        assert post_json(tenant.client, "/api/v1/orders/", body).status_code == 201
    single = {
        o.external_id: (o.points_earned, o.member.external_id, o.explanation)
        for o in Order.objects.filter(merchant=tenant.merchant)
    }
    moved = [{**body, "external_id": body["external_id"].replace("s-", "m-")} for body in bodies]
    moved = [{**body, "member": body["member"].replace("c-", "d-")} for body in moved]
    assert bulk(tenant, moved).status_code == 200
    batched = {
        o.external_id.replace("m-", "s-"): (
            o.points_earned,
            o.member.external_id.replace("d-", "c-"),
            o.explanation,
        )
        for o in Order.objects.filter(merchant=tenant.merchant, external_id__startswith="m-")
    }
    assert batched == single
    # A member with three orders in the call: each evaluated on the one before.
    d0 = Member.objects.get(merchant=tenant.merchant, external_id="d-0")
    c0 = Member.objects.get(merchant=tenant.merchant, external_id="c-0")
    assert (d0.points_balance, d0.pending_points, d0.lifetime_points) == (
        c0.points_balance,
        c0.pending_points,
        c0.lifetime_points,
    )
    assert_ledger_consistent(d0)


def test_the_same_call_again_replays_and_earns_nothing_more(tenant, program):
    orders = [order_body(f"r-{n}", member=f"m-{n}") for n in range(3)]
    assert bulk(tenant, orders).status_code == 200
    before = db_state()
    again = bulk(tenant, orders)
    assert [r["status"] for r in again.json()["results"]] == ["replayed"] * 3
    assert db_state() == before


def test_an_id_twice_in_a_call_is_a_replay_or_a_conflict(tenant, program):
    same = order_body("dup")
    response = bulk(tenant, [same, same, {**same, "total": "99.00"}])
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "replayed", "error"]
    assert results[2]["problem"]["code"] == "idempotency_conflict"
    assert Order.objects.filter(merchant=tenant.merchant).count() == 1
    assert LedgerEntry.objects.filter(merchant=tenant.merchant).count() == 1


def test_one_bad_item_is_answered_with_its_problem_and_the_others_are_recorded(tenant, program):
    response = bulk(
        tenant,
        [
            order_body("ok-1"),
            order_body("bad-total", total="-1"),
            {"external_id": "no-member", "total": "1.00"},
            order_body("bad-currency", currency="XXZ"),
            order_body("bad-store", store="00000000-0000-0000-0000-000000000000"),
            order_body("too-precise", currency="JPY", total="10.5"),
            order_body("ok-2", member="cust-2"),
        ],
    )
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created"] + ["error"] * 5 + ["created"]
    problems = [r["problem"] for r in results if r["status"] == "error"]
    assert [p["code"] for p in problems] == ["invalid_input"] * 3 + ["domain_error"] * 2
    assert problems[0]["errors"][0]["attr"] == "total"
    assert {e["attr"] for e in problems[1]["errors"]} >= {"member", "currency", "placed_at"}
    assert problems[3]["errors"][0]["attr"] == "store"
    assert set(Order.objects.values_list("external_id", flat=True)) == {"ok-1", "ok-2"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"orders": {}},
        {"orders": []},
        {"orders": "x"},
        [],
        {"orders": [{}] * 1001},
        {"orders": [{}, "not an object"]},
    ],
)
def test_a_body_that_is_not_a_list_of_1_to_1000_orders_is_a_400(tenant, program, body):
    before = db_state()
    response = post_json(tenant.client, BULK, body)
    attr = "orders.1" if isinstance(body, dict) and len(body.get("orders", "")) == 2 else "orders"
    assert_problem(response, 400, "invalid_input", attr)
    assert db_state() == before


def test_another_merchants_store_and_members_stay_theirs(tenant_pair):
    from core.actors import SYSTEM
    from merchants.services.stores import store_create
    from tests.loyalty.apihelpers import program_for

    program_for(tenant_pair.a.merchant)
    program_for(tenant_pair.b.merchant)
    store_b, _ = store_create(
        merchant=tenant_pair.b.merchant,
        name="B",
        platform="custom",
        domain="b.example",
        actor=SYSTEM,
    )
    member_make(tenant_pair.b.merchant, "shared-id", points=50)
    results = bulk(
        tenant_pair.a,
        [
            order_body("x-1", member="shared-id", currency="USD"),
            order_body("x-2", store=str(store_b.public_id)),
        ],
    ).json()["results"]
    assert [r["status"] for r in results] == ["created", "error"]
    assert results[1]["problem"]["errors"][0]["attr"] == "store"
    own = Member.objects.get(merchant=tenant_pair.a.merchant, external_id="shared-id")
    theirs = Member.objects.get(merchant=tenant_pair.b.merchant, external_id="shared-id")
    assert own.pk != theirs.pk
    assert theirs.points_balance == 50


@pytest.mark.postgres
def test_a_thousand_new_members_orders_take_a_few_statements(tenant, program):
    from django.test.utils import CaptureQueriesContext

    orders = [
        order_body(
            f"big-{n}",
            member=f"new-{n}",
            lines=[{"sku": f"S{n}", "category": "c", "quantity": 1, "unit_price": "120.00"}],
        )
        for n in range(1000)
    ]
    with CaptureQueriesContext(connection) as queries:
        response = bulk(tenant, orders)
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"created"}
    assert Order.objects.filter(merchant=tenant.merchant).count() == 1000
    writes = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SAVEPOINT")]
    writes = [q for q in writes if not q.startswith("RELEASE SAVEPOINT")]
    # Key, the envelope's existing ids, members locked (twice: before and after creating
    # the unknown ones) and created, the configuration, two key draws, the batch, and
    # the lot reads that follow: far from one statement per order.
    assert len(writes) <= 30, [q[:120] for q in writes]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_with_the_same_orders_record_each_once(tenant, program):
    from django.db import connections

    orders = [order_body(f"c-{n}", member=f"cm-{n % 7}") for n in range(40)]
    answers = []

    def call():
        try:
            answers.append(bulk(tenant, orders).json()["results"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 3
    for results in answers:
        assert {r["status"] for r in results} <= {"created", "replayed"}
    assert Order.objects.filter(merchant=tenant.merchant).count() == 40
    created = sum(r["status"] == "created" for results in answers for r in results)
    assert created == 40
    for member in Member.objects.filter(merchant=tenant.merchant):
        assert_ledger_consistent(member)
    assert sum(o.points_earned for o in Order.objects.all()) == sum(
        m.lifetime_points for m in Member.objects.all()
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_orders_of_a_member_another_transaction_holds_wait_and_the_others_do_not(tenant, program):
    import time

    from django.db import connections, transaction

    held = member_make(tenant.merchant, "held")
    for n in range(3):
        member_make(tenant.merchant, f"free-{n}")
    orders = [
        order_body("h-1", member="held", total="10.00"),
        *(order_body(f"f-{n}", member=f"free-{n}", total="20.00") for n in range(3)),
        order_body("h-2", member="held", total="5.00"),
        order_body("n-1", member="brand-new", total="3.00"),
    ]
    answers = []

    def call():
        try:
            answers.append(bulk(tenant, orders))
        finally:
            connections.close_all()

    with transaction.atomic():
        Member.objects.select_for_update().get(pk=held.pk)
        thread = threading.Thread(target=call)
        thread.start()
        # The free members' orders are committed while the held member is still held.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            recorded = set(
                Order.objects.filter(merchant=tenant.merchant).values_list("external_id", flat=True)
            )
            if recorded:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        recorded = set(
            Order.objects.filter(merchant=tenant.merchant).values_list("external_id", flat=True)
        )
        assert recorded == {"f-0", "f-1", "f-2"}
        assert thread.is_alive()
    thread.join(timeout=30)

    (response,) = answers
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["status"], r["order"]["points_earned"]) for r in results] == [
        ("created", 10),
        ("created", 20),
        ("created", 20),
        ("created", 20),
        ("created", 5),
        ("created", 3),
    ]
    held = assert_ledger_consistent(Member.objects.get(pk=held.pk))
    assert held.lifetime_points == 15
    # The member's orders were written in the call's order.
    assert list(
        LedgerEntry.objects.filter(member=held).order_by("pk").values_list("source_ref", flat=True)
    ) == ["h-1", "h-2"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_for_the_same_members_earn_every_order_once(tenant, program):
    from django.db import connections

    calls = [
        [order_body(f"k{call}-{n}", member=f"km-{n % 9}", total="10.00") for n in range(45)]
        for call in range(4)
    ]
    answers = []

    def call(orders):
        try:
            answers.append(bulk(tenant, orders).json()["results"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call, args=(orders,)) for orders in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 4
    assert {r["status"] for results in answers for r in results} == {"created"}
    assert Order.objects.filter(merchant=tenant.merchant).count() == 180
    for member in Member.objects.filter(merchant=tenant.merchant):
        member = assert_ledger_consistent(member)
        assert member.lifetime_points == 20 * 10
