"""The single order's hot path: its statements pinned, and the member lock (a statement
built once a process) reading what the ORM's query reads."""

import dataclasses
import datetime
import decimal
from dataclasses import asdict

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty import locks
from loyalty.models import Member
from loyalty.recording import request_digest
from loyalty.referrals.services import ReferralInput
from loyalty.services import orders
from tests.loyalty.factories import member_make, program_merchant
from tests.merchants.factories import issue_key


def _order(number: int, member: str) -> dict:
    return {
        "external_id": f"order-{number}",
        "member": {"external_id": member, "email": f"{member}@example.com"},
        "total": "139.00",
        "currency": "USD",
        "placed_at": "2026-01-05T10:00:00Z",
        "lines": [
            {"sku": "TENT", "category": "camping", "quantity": 1, "unit_price": "120.00"},
            {"sku": "MUG", "category": "kitchen", "quantity": 2, "unit_price": "9.50"},
        ],
    }


@pytest.fixture
def client(db):
    from rest_framework.test import APIClient

    merchant, _ = program_merchant()
    _, raw_key = issue_key(merchant)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    api.merchant = merchant
    return api


@pytest.mark.django_db
def test_an_order_of_a_known_member_is_a_read_and_one_write(client):
    member_make(client.merchant, "cust-1")
    assert client.post("/api/v1/orders/", _order(1, "cust-1"), format="json").status_code == 201

    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/orders/", _order(2, "cust-1"), format="json")

    assert response.status_code == 201, response.content
    statements = [q["sql"] for q in captured.captured_queries]
    # The key comes from the process's cache. On PostgreSQL the member is read as last
    # committed (with the program's configuration version), and one statement locks
    # their row as it moves their balances and writes the order, its lines, the ledger
    # entry, its lot and the awards; elsewhere the member is locked first. Around the
    # write, the savepoint the test's transaction turns the service's own into.
    assert not [sql for sql in statements if "merchantapikey" in sql]
    if connection.vendor == "postgresql":
        assert not [sql for sql in statements if "FOR UPDATE" in sql], statements
        assert len([sql for sql in statements if sql.startswith("WITH wg AS (UPDATE")]) == 1
    else:
        assert len([sql for sql in statements if "FOR UPDATE" in sql]) == 1
    assert len(statements) == 4, statements


@pytest.mark.django_db
def test_the_member_lock_reads_what_the_orm_reads():
    merchant, _ = program_merchant()
    member_make(merchant, "cust-1", points=40, country="FR", attributes={"vip": True, "n": 1.5})
    with transaction.atomic():
        locked = locks.member_lock_with_config_version(merchant=merchant, external_id="cust-1")
        queried = (
            locks._member_with_config_version().filter(merchant=merchant).get(external_id="cust-1")
        )
    fields = [field.attname for field in Member._meta.concrete_fields]
    assert [getattr(locked, name) for name in fields] == [getattr(queried, name) for name in fields]
    assert locked.config_version == queried.config_version
    assert locked.segment_list == queried.segment_list
    assert locked.attributes == {"vip": True, "n": 1.5}
    assert locked.country.code == "FR"


@pytest.mark.django_db
def test_the_member_lock_of_an_unknown_member_raises_does_not_exist():
    merchant, _ = program_merchant()
    other, _ = program_merchant()
    member_make(other, "cust-1")
    with transaction.atomic(), pytest.raises(Member.DoesNotExist):
        locks.member_lock_with_config_version(merchant=merchant, external_id="cust-1")


def test_the_order_digest_is_the_digest_of_the_whole_input():
    data = orders.OrderInput(
        external_id="order-1",
        member_external_id="cust-1",
        total=decimal.Decimal("139.0000"),
        currency="USD",
        placed_at=datetime.datetime(2026, 1, 5, 10, tzinfo=datetime.UTC),
        lines=(
            orders.LineInput("TENT", "camping", 1, decimal.Decimal("120.00")),
            orders.LineInput("", "", 2, decimal.Decimal("9.5")),
        ),
        store_public_id="0b6c5a3e-2f41-4a8e-9d4e-4a7f3b1c2d5e",
        member_fields={"email": "ana@example.com", "first_name": "Ana"},
    )
    assert orders.order_digest(data) == request_digest(order_mapping(data))
    bare = orders.OrderInput("order-2", "cust-2", decimal.Decimal(0), "JPY", data.placed_at)
    assert orders.order_digest(bare) == request_digest(order_mapping(bare))
    referred = dataclasses.replace(bare, referral=ReferralInput(code="K7QM2XPA"))
    assert orders.order_digest(referred) == orders.order_digest(bare)


def order_mapping(data: orders.OrderInput) -> dict:
    """The order's input as a mapping, without the referral that may come with it (it
    concerns the member, not what the order is)."""
    mapping = asdict(data)
    del mapping["referral"]
    return mapping
