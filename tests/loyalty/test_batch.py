"""WriteBatch: queued inserts and updates, one statement on PostgreSQL, ORM saves elsewhere."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.batch import WriteBatch
from loyalty.batch_values import Returned
from loyalty.models import LedgerEntry, Order, OrderLine, PointLot
from tests.loyalty.factories import member_make, program_merchant


def _order(merchant, member, external_id: str = "o-1") -> Order:
    return Order(
        merchant=merchant,
        member=member,
        external_id=external_id,
        placed_at=timezone.now(),
        currency="USD",
        total=Decimal("12.50"),
        program_currency="USD",
        program_total=Decimal("12.50"),
        points_earned=12,
        explanation=[{"rule": "base", "points": 12}],
        request_hash="h",
    )


def _entry(member, order, points: int) -> LedgerEntry:
    return LedgerEntry(
        merchant_id=member.merchant_id,
        member=member,
        kind=LedgerEntry.Kind.EARN,
        points=points,
        balance_after=points,
        pending_after=0,
        source_type=LedgerEntry.Source.ORDER,
        source_ref=order.external_id,
        order=order,
        created_at=timezone.now(),
    )


@pytest.mark.django_db
def test_rows_referencing_earlier_rows_of_the_batch_are_written_with_their_keys():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    batch = WriteBatch()
    order = batch.insert(_order(merchant, member))
    lines = batch.insert_many(
        OrderLine(order=order, sku=f"S{n}", category="c", quantity=n, unit_price=Decimal("1.25"))
        for n in (1, 2, 3)
    )
    member.points_balance = 12
    member.lifetime_points = 12
    batch.update(member, ["points_balance", "lifetime_points", "updated_at"])
    entry = batch.insert(_entry(member, order, 12))
    lot = batch.insert(
        PointLot(
            merchant_id=merchant.pk,
            member=member,
            entry=entry,
            order=order,
            points=12,
            remaining=12,
            earned_at=entry.created_at,
            available_at=entry.created_at,
            released_at=entry.created_at,
        )
    )
    assert order.pk is None

    with CaptureQueriesContext(connection) as captured:
        batch.execute()

    if connection.vendor == "postgresql":
        assert len(captured.captured_queries) == 1
    else:
        assert len(captured.captured_queries) >= 5
    for obj in (order, *lines, entry, lot):
        assert obj.pk is not None
        assert obj._state.adding is False
    assert entry.order_id == order.pk
    assert lot.entry_id == entry.pk
    assert lot.order_id == order.pk
    assert [line.order_id for line in lines] == [order.pk] * 3
    stored = Order.objects.get(pk=order.pk)
    assert stored.explanation == [{"rule": "base", "points": 12}]
    assert stored.total == Decimal("12.50")
    assert stored.created_at is not None
    assert sorted(OrderLine.objects.filter(order=order).values_list("sku", "quantity")) == [
        ("S1", 1),
        ("S2", 2),
        ("S3", 3),
    ]
    member.refresh_from_db()
    assert (member.points_balance, member.lifetime_points) == (12, 12)
    assert PointLot.objects.get(pk=lot.pk).entry_id == entry.pk
    # Executed batches are empty.
    with CaptureQueriesContext(connection) as captured:
        batch.execute()
    assert captured.captured_queries == []


@pytest.mark.django_db
def test_a_violated_constraint_raises_integrity_error_and_writes_nothing():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    first = WriteBatch()
    first.insert(_order(merchant, member, "dup"))
    first.execute()

    batch = WriteBatch()
    member.points_balance = 5
    batch.update(member, ["points_balance"])
    order = batch.insert(_order(merchant, member, "dup"))  # unique per merchant
    batch.insert(_entry(member, order, 5))
    with pytest.raises(IntegrityError), transaction.atomic():
        batch.execute()

    member.refresh_from_db()
    assert member.points_balance == 0
    assert Order.objects.filter(merchant=merchant).count() == 1
    assert not LedgerEntry.objects.filter(member=member).exists()


@pytest.mark.django_db
def test_a_check_constraint_is_enforced_inside_the_statement():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    member.points_balance = -1  # CHECK: a balance is never negative
    batch = WriteBatch()
    batch.update(member, ["points_balance"])
    with pytest.raises(IntegrityError), transaction.atomic():
        batch.execute()
    member.refresh_from_db()
    assert member.points_balance == 0


@pytest.mark.django_db
def test_refuses_references_it_cannot_resolve():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    unsaved = _order(merchant, member)
    with pytest.raises(ValueError, match="update needs a saved instance"):
        WriteBatch().update(unsaved, ["total"])
    with pytest.raises(ValueError, match="one model"):
        WriteBatch().insert_many([unsaved, _entry(member, unsaved, 1)])
    if connection.vendor != "postgresql":
        return  # the ORM path refuses it too, with Django's own message
    batch = WriteBatch()
    batch.insert(_entry(member, unsaved, 1))  # the order is not in the batch
    with pytest.raises(ValueError, match="neither saved nor inserted"):
        batch.execute()
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_auto_now_fields_are_filled_on_both_paths():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    before = timezone.now() - datetime.timedelta(seconds=1)
    batch = WriteBatch()
    order = batch.insert(_order(merchant, member))
    batch.update(member, ["updated_at"])
    batch.execute()
    assert Order.objects.get(pk=order.pk).created_at >= before
    member.refresh_from_db()
    assert member.updated_at >= before


@pytest.mark.django_db
def test_standalone_updates_and_inserts_are_grouped_into_one_statement_each():
    merchant, _ = program_merchant()
    members = [member_make(merchant) for _ in range(4)]
    orders = []
    first = WriteBatch()
    for number, member in enumerate(members):
        orders.append(first.insert(_order(merchant, member, f"g-{number}")))
    first.execute()

    batch = WriteBatch()
    entries = []
    for number, (member, order) in enumerate(zip(members, orders, strict=True)):
        member.points_balance = number + 1
        member.lifetime_points = number + 1
        batch.update(member, ["points_balance", "lifetime_points", "updated_at"])
        entries.append(batch.insert(_entry(member, order, number + 1)))
    members[0].last_activity_at = timezone.now()
    batch.update(members[0], ["last_activity_at"])  # the same row again: merged

    with CaptureQueriesContext(connection) as captured:
        batch.execute()

    if connection.vendor == "postgresql":
        assert len(captured.captured_queries) == 1
        assert captured.captured_queries[0]["sql"].count("UPDATE") == 2
    else:
        assert len(captured.captured_queries) <= 5
    assert all(entry.pk for entry in entries)
    stored = {m.pk: m for m in type(members[0]).objects.filter(pk__in=[m.pk for m in members])}
    assert [stored[m.pk].points_balance for m in members] == [1, 2, 3, 4]
    assert stored[members[0].pk].last_activity_at is not None
    assert [
        e.points for e in LedgerEntry.objects.filter(pk__in=[e.pk for e in entries]).order_by("pk")
    ] == [
        1,
        2,
        3,
        4,
    ]


@pytest.mark.django_db
def test_every_row_of_a_multi_row_insert_gets_its_own_key():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    batch = WriteBatch()
    # Single inserts that stand alone are grouped into one multi-row INSERT; insert_many
    # is one already. Each instance must come back with the key of its own row.
    orders = [batch.insert(_order(merchant, member, f"k-{number}")) for number in range(40)]
    batch.execute()
    lines = WriteBatch()
    written = lines.insert_many(
        OrderLine(
            order=orders[number % 3],
            sku=f"L{number}",
            category="c",
            quantity=number + 1,
            unit_price=Decimal("1.00"),
        )
        for number in range(40)
    )
    lines.execute()

    stored_orders = dict(Order.objects.filter(merchant=merchant).values_list("pk", "external_id"))
    assert {order.pk: order.external_id for order in orders} == stored_orders
    stored_lines = dict(OrderLine.objects.filter(order__merchant=merchant).values_list("pk", "sku"))
    assert {line.pk: line.sku for line in written} == stored_lines
    assert [line.order_id for line in written] == [orders[n % 3].pk for n in range(40)]


# Text that an array literal must quote or escape, and values that are not text.
AWKWARD = ["NULL", "", 'say "hi"', "a,b", "{braces}", "back\\slash", "tab\there", "ünïcødé ✓"]


@pytest.mark.django_db
def test_many_rows_travel_as_arrays_and_come_back_as_they_were_sent():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    placed = timezone.now() - datetime.timedelta(days=2)
    batch = WriteBatch()
    orders = []
    for number, text in enumerate(AWKWARD):
        order = _order(merchant, member, f"aw-{number}")
        order.placed_at = placed + datetime.timedelta(microseconds=number)
        order.total = Decimal("0.0001") * (number + 1)
        order.rate_used = None if number % 2 else Decimal("1.0837000001")
        order.explanation = [{"label": text, "points": str(number), "nested": {"k": [text]}}]
        orders.append(batch.insert(order))
    with CaptureQueriesContext(connection) as captured:
        batch.execute()
    # Two lists of lines of saved orders, queued apart: they join one insert.
    lines = WriteBatch()
    first = lines.insert_many(
        OrderLine(order=orders[0], sku=text, category="", quantity=1, unit_price=Decimal("1"))
        for text in AWKWARD
    )
    second = lines.insert_many(
        OrderLine(order=orders[1], sku="x", category=text, quantity=2, unit_price=Decimal("2.5"))
        for text in AWKWARD
    )
    with CaptureQueriesContext(connection) as captured_lines:
        lines.execute()

    if connection.vendor == "postgresql":
        for queries, table in ((captured, "loyalty_order"), (captured_lines, "loyalty_orderline")):
            (statement,) = queries.captured_queries
            assert statement["sql"].count(f'INSERT INTO "{table}"') == 1
            assert "unnest" in statement["sql"]
    for order, text in zip(orders, AWKWARD, strict=True):
        stored = Order.objects.get(pk=order.pk)
        assert stored.explanation == order.explanation
        assert stored.explanation[0]["label"] == text
        assert (stored.placed_at, stored.total, stored.rate_used) == (
            order.placed_at,
            order.total,
            order.rate_used,
        )
    stored_lines = {line.pk: line for line in OrderLine.objects.filter(order__in=orders[:2])}
    assert [stored_lines[line.pk].sku for line in first] == AWKWARD
    assert [stored_lines[line.pk].category for line in second] == AWKWARD
    assert {stored_lines[line.pk].unit_price for line in second} == {Decimal("2.5")}


@pytest.mark.django_db
def test_an_absorbed_batch_is_written_with_the_one_that_took_it_and_is_left_empty():
    merchant, _ = program_merchant()
    member = member_make(merchant)
    batch, own = WriteBatch(), WriteBatch()
    kept = batch.insert(_order(merchant, member, "ab-1"))
    member.first_name = "Ana"
    own.update(member, ["first_name"])
    taken = own.insert(_order(merchant, member, "ab-2"))
    member.last_name = "Lima"
    batch.update(member, ["last_name"])

    batch.absorb(own)
    own.execute()  # nothing left in it
    assert taken.pk is None
    batch.execute()

    assert {kept.pk, taken.pk} == set(
        Order.objects.filter(merchant=merchant).values_list("pk", flat=True)
    )
    member.refresh_from_db()
    assert (member.first_name, member.last_name) == ("Ana", "Lima")


def _gated_batch(merchant, member, *, equal=None, below=None, exists=()):
    """An order with its entry and a JSON value, hung on a gate that adds 12 points."""
    from merchants.models import OutboxEvent

    batch = WriteBatch()
    order = batch.insert(_order(merchant, member))
    batch.insert_many(
        OrderLine(order=order, sku=f"S{n}", category="c", quantity=n, unit_price=Decimal(2))
        for n in (1, 2)
    )
    entry = _entry(member, order, 12)
    entry.balance_after = Returned("points_balance")
    batch.insert(entry)
    event = batch.insert(
        OutboxEvent(
            merchant_id=merchant.pk,
            type="points.earned",
            subject=member.external_id,
            payload={"member": {"points_balance": Returned("points_balance")}, "n": [1, 2]},
            occurred_at=timezone.now(),
        )
    )
    member.points_balance = 999  # a queued update of the gated row is the gate's to write
    batch.update(member, ["points_balance"])
    later = timezone.now() + datetime.timedelta(days=1)
    batch.gate(
        member,
        add={"points_balance": 12, "lifetime_points": 12},
        latest={"last_activity_at": later},
        equal=equal or {},
        below=below or {},
        exists=exists,
    )
    return batch, order, entry, event, later


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_gate_that_holds_moves_its_row_and_hands_what_it_left_to_the_batch():
    from merchants.models import Merchant, OutboxEvent

    merchant, _ = program_merchant()
    merchant.refresh_from_db()
    member = member_make(merchant, points=30)
    batch, order, entry, event, later = _gated_batch(
        merchant,
        member,
        equal={"tier": None, "status": "active"},
        below={"lifetime_points": 31},  # the row as found, before the 12 are added
        exists=[(Merchant, {"id": merchant.pk, "config_version": merchant.config_version})],
    )

    with CaptureQueriesContext(connection) as captured:
        assert batch.execute() is True

    assert len(captured.captured_queries) == 1
    assert (member.points_balance, member.lifetime_points) == (42, 42)
    assert member.last_activity_at == later
    stored = type(member).objects.get(pk=member.pk)
    assert (stored.points_balance, stored.lifetime_points) == (42, 42)
    assert stored.last_activity_at == later
    assert entry.balance_after == 42 == LedgerEntry.objects.get(pk=entry.pk).balance_after
    assert OutboxEvent.objects.get(pk=event.pk).payload == {
        "member": {"points_balance": 42},
        "n": [1, 2],
    }
    assert event.payload["member"]["points_balance"] == 42
    assert OrderLine.objects.filter(order=order).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    "refusal",
    ["tier", "status", "below", "exists"],
)
def test_a_gate_that_does_not_hold_writes_nothing_of_its_batch(refusal):
    from merchants.models import Merchant, OutboxEvent

    merchant, _ = program_merchant()
    member = member_make(merchant, points=30)
    conditions = {
        "tier": {"equal": {"tier": 10**9}},
        "status": {"equal": {"status": "blocked"}},
        "below": {"below": {"lifetime_points": 30}},  # the row as found: 30 is not under 30
        "exists": {"exists": [(Merchant, {"id": merchant.pk, "config_version": "other"})]},
    }[refusal]
    events_before = OutboxEvent.objects.count()
    entries_before = LedgerEntry.objects.filter(member=member).count()
    batch, order, entry, _, _ = _gated_batch(merchant, member, **conditions)

    assert batch.execute() is False

    stored = type(member).objects.get(pk=member.pk)
    assert (stored.points_balance, stored.lifetime_points) == (30, 30)
    assert not Order.objects.filter(merchant=merchant).exists()
    assert LedgerEntry.objects.filter(member=member).count() == entries_before
    assert OutboxEvent.objects.count() == events_before
    assert order.pk is None
    assert entry.pk is None


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("holds", [True, False])
def test_what_waits_for_the_write_runs_after_it_and_never_for_a_gate_that_did_not_hold(holds):
    merchant, _ = program_merchant()
    member = member_make(merchant, points=30)
    batch, order, _, _, _ = _gated_batch(
        merchant, member, below={"lifetime_points": 31 if holds else 30}
    )
    seen: list[bool] = []
    batch.when_written(lambda: seen.append(Order.objects.filter(pk=order.pk).exists()))

    assert batch.execute() is holds

    assert seen == ([True] if holds else [])
