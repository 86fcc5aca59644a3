"""``manage.py audit_ledger``: the whole ledger checked in bulk, a report, exit 1 on any
mismatch. The mismatches are made by writing around the ledger (and, where the database
would refuse them, with its triggers off inside a transaction rolled back afterwards)."""

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from loyalty.audit import ledger_audit
from loyalty.models import Member, PointLot
from tests.loyalty.factories import (
    member_make,
    order_post,
    points_give,
    points_take,
    program_merchant,
    refund_post,
    release_due,
)

pytestmark = pytest.mark.django_db


def _audit(*args: str) -> str:
    out = StringIO()
    call_command("audit_ledger", *args, stdout=out, stderr=out)
    return out.getvalue()


def _failing_audit(*args: str) -> str:
    out = StringIO()
    with pytest.raises(CommandError, match="does not balance") as raised:
        call_command("audit_ledger", *args, stdout=out, stderr=out)
    assert raised.value.returncode == 1
    return out.getvalue()


@pytest.fixture
def busy_ledger():
    """Two members with earns (pending and released), spends, a release and a refund."""
    merchant, _ = program_merchant(pending_days=14)
    first, second = member_make(merchant), member_make(merchant)
    placed = timezone.now() - datetime.timedelta(days=20)
    order = order_post(merchant, first, "120.00", placed_at=placed).obj
    order_post(merchant, second, "40.00")
    release_due(first)
    points_give(second, 30)
    points_take(first, 50)
    refund_post(merchant, order.external_id, "60.00")
    return merchant, first, second


def test_a_ledger_written_by_the_services_balances(busy_ledger):
    report = _audit()
    assert report.startswith("2 member(s), 5 entr(y/ies), 3 lot(s)")
    assert "the ledger balances" in report
    assert ledger_audit().ok


def test_a_lot_changed_around_the_ledger_is_reported_with_its_member(busy_ledger):
    _, first, _ = busy_ledger
    lot = PointLot.objects.filter(member=first, remaining__gt=0).first()
    PointLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - 1)

    report = _failing_audit()

    assert f"member {first.pk}: balance" in report
    assert f"lot {lot.pk} of {lot.points} point(s) has {lot.remaining - 1} left" in report


def test_merchant_limits_the_audit_to_that_merchants_members(busy_ledger):
    merchant, _, _ = busy_ledger
    other, _ = program_merchant()
    other_member = member_make(other)
    points_give(other_member, 10)
    PointLot.objects.filter(member=other_member).update(remaining=9)

    assert "the ledger balances" in _audit("--merchant", merchant.slug)
    assert f"member {other_member.pk}" in _failing_audit("--merchant", other.slug)
    with pytest.raises(CommandError, match="nope"):
        call_command("audit_ledger", "--merchant", "nope", stdout=StringIO())


@pytest.mark.postgres
def test_a_cached_balance_that_is_not_the_ledgers_is_reported(busy_ledger):
    _, _, second = busy_ledger
    with transaction.atomic():
        # The database would refuse this at commit; the transaction is rolled back.
        Member.objects.filter(pk=second.pk).update(
            points_balance=F("points_balance") + 1, lifetime_points=F("lifetime_points") + 1
        )
        report = _failing_audit()
        transaction.set_rollback(True)
    assert f"member {second.pk}: balance" in report
    assert "entries sum to" in report


@pytest.mark.postgres
def test_an_entry_that_breaks_the_chain_is_reported(busy_ledger):
    _, first, _ = busy_ledger
    entry = first.ledger.order_by("id").last()
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Triggers off for this transaction only (it is rolled back below).
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(
                "UPDATE loyalty_ledgerentry SET balance_after = balance_after + 2 WHERE id = %s",
                [entry.pk],
            )
        report = _failing_audit()
        transaction.set_rollback(True)
    assert f"entry {entry.pk} says {entry.balance_after + 2} / " in report
