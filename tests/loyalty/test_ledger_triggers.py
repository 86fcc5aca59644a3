"""The ledger's invariants held by the database itself: each test bypasses the services
(a bulk ``.update()``, ``.delete()``, raw SQL) and expects the database's refusal."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from core.actors import Actor
from loyalty import ledger
from loyalty.batch import WriteBatch
from loyalty.models import LedgerEntry, LotMovement, Member, TierChange
from tests.loyalty.factories import (
    member_make,
    points_give,
    points_take,
    program_merchant,
)
from tests.merchants.factories import StaffFactory

postgres = pytest.mark.postgres


@pytest.fixture
def member():
    merchant, _ = program_merchant()
    return member_make(merchant)


def _refused(match: str = "append-only|chain|ledger"):
    return pytest.raises(IntegrityError, match=match)


def _check_deferred_now():
    """Run the checks PostgreSQL defers to commit (the test's transaction never commits)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _entry(member: Member, *, points: int, balance_after: int, pending_after: int = 0):
    return LedgerEntry(
        merchant_id=member.merchant_id,
        member=member,
        kind=LedgerEntry.Kind.ADJUST,
        points=points,
        balance_after=balance_after,
        pending_after=pending_after,
        source_type=LedgerEntry.Source.STAFF,
        reason="written around the ledger",
        created_at=timezone.now(),
    )


# -- append-only -------------------------------------------------------------------------


@pytest.mark.django_db
def test_database_refuses_updating_a_ledger_entry(member):
    entry = points_give(member, 10)
    with _refused("append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(reason="rewritten")
    assert LedgerEntry.objects.get(pk=entry.pk).reason == "goodwill"


@postgres
@pytest.mark.django_db
def test_database_refuses_deleting_a_ledger_entry(member):
    entry = points_take_after_give(member)
    with _refused("append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM loyalty_ledgerentry WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def points_take_after_give(member: Member) -> LedgerEntry:
    points_give(member, 10)
    return points_take(member, 4)


@pytest.mark.django_db
def test_database_refuses_updating_a_lot_movement(member):
    movement = points_take_after_give(member).movements.get()
    with _refused("append-only"), transaction.atomic():
        LotMovement.objects.filter(pk=movement.pk).update(points=-1)
    assert LotMovement.objects.get(pk=movement.pk).points == -4


@postgres
@pytest.mark.django_db
def test_database_refuses_deleting_a_lot_movement(member):
    movement = points_take_after_give(member).movements.get()
    with _refused("append-only"), transaction.atomic():
        LotMovement.objects.filter(pk=movement.pk).delete()
    assert LotMovement.objects.filter(pk=movement.pk).exists()


@pytest.mark.django_db
def test_database_refuses_updating_a_tier_change(member):
    change = TierChange.objects.create(member=member, reason="recomputed", qualifying_value="10.00")
    with _refused("append-only"), transaction.atomic():
        TierChange.objects.filter(pk=change.pk).update(reason="rewritten")
    if connection.vendor == "postgresql":
        with _refused("append-only"), transaction.atomic():
            TierChange.objects.filter(pk=change.pk).delete()
    assert TierChange.objects.get(pk=change.pk).reason == "recomputed"


@pytest.mark.django_db
def test_deleting_a_user_clears_the_actor_of_their_entries_and_nothing_else(member):
    staff, other = StaffFactory(), StaffFactory()
    entry = ledger.points_adjust(
        member=member,
        points=10,
        reason="goodwill",
        at=timezone.now(),
        expires_at=None,
        actor=Actor.staff(staff),
    )
    with _refused("append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(actor=other)
    with _refused("append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(actor=None, reason="and more")

    staff.delete()  # on_delete=SET_NULL: an UPDATE of the entry's actor alone

    stored = LedgerEntry.objects.get(pk=entry.pk)
    assert (stored.actor_id, stored.points, stored.reason) == (None, 10, "goodwill")


# -- the chain ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_database_refuses_an_entry_that_does_not_follow_the_previous_one(member):
    points_give(member, 10)
    with _refused("chain"), transaction.atomic():
        _entry(member, points=5, balance_after=16).save()
    with _refused("chain"), transaction.atomic():
        _entry(member, points=5, balance_after=15, pending_after=1).save()
    assert member.ledger.count() == 1


@pytest.mark.django_db
def test_database_refuses_a_first_entry_that_does_not_start_from_zero(member):
    with _refused("chain"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO loyalty_ledgerentry (merchant_id, member_id, kind, points, pending, "
            "balance_after, pending_after, source_type, source_ref, reason, shortfall, "
            "actor_label, created_at) "
            "VALUES (%s, %s, 'adjust', 5, 0, 7, 0, 'staff', '', '', 0, '', %s)",
            [member.merchant_id, member.pk, timezone.now()],
        )
    assert not member.ledger.exists()


@pytest.mark.django_db
def test_several_entries_of_one_member_in_one_statement_are_chained_in_key_order(member):
    first, second = (
        _entry(member, points=3, balance_after=3),
        _entry(member, points=4, balance_after=7),
    )
    member.points_balance = member.lifetime_points = 7
    batch = WriteBatch()
    batch.update(member, ["points_balance", "lifetime_points"])
    batch.insert_many([first, second])
    batch.execute()
    assert [e.balance_after for e in member.ledger.order_by("id")] == [3, 7]

    broken = WriteBatch()
    broken.insert_many(
        [_entry(member, points=1, balance_after=8), _entry(member, points=1, balance_after=10)]
    )
    with _refused("chain"), transaction.atomic():
        broken.execute()
    assert member.ledger.count() == 2


# -- the member's cached balances, at commit (PostgreSQL) -----------------------------------


@postgres
@pytest.mark.django_db
def test_database_refuses_at_commit_a_balance_that_is_not_the_last_entrys(member):
    points_give(member, 10)
    with _refused("last ledger entry"), transaction.atomic():
        Member.objects.filter(pk=member.pk).update(
            points_balance=F("points_balance") + 5, lifetime_points=F("lifetime_points") + 5
        )
        _check_deferred_now()
    assert Member.objects.get(pk=member.pk).points_balance == 10


@postgres
@pytest.mark.django_db
def test_database_refuses_at_commit_an_entry_the_balance_does_not_follow(member):
    points_give(member, 10)
    with _refused("last ledger entry"), transaction.atomic():
        _entry(member, points=5, balance_after=15).save()  # the chain holds, not the cache
        _check_deferred_now()
    assert member.ledger.count() == 1


@postgres
@pytest.mark.django_db
def test_balances_written_through_the_ledger_pass_the_commit_check(member):
    points_give(member, 10)
    points_take(member, 3)
    _check_deferred_now()  # raises if any check fails
    member.refresh_from_db()
    assert member.points_balance == 7
