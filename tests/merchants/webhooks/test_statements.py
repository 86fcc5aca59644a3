"""The order path's statements with webhooks: the outbox rows join the one-statement
write, so an order costs what it cost before (PostgreSQL)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.actors import SYSTEM
from loyalty.models import Tier
from merchants.models import OutboxEvent
from tests.loyalty.apihelpers import post_json
from tests.merchants.webhooks.conftest import endpoint_make

ORDERS = "/api/v1/orders/"

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _statements(client, body) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = post_json(client, ORDERS, body)
    assert response.status_code == 201, response.content
    # The API key's read aside (cached once verified): the order's own statements.
    return [
        q["sql"]
        for q in captured.captured_queries
        if "SAVEPOINT" not in q["sql"]
        and not q["sql"].startswith('SELECT "merchants_merchantapikey"')
    ]


def _body(tenant, external_id: str, member: str, total: str = "120.00") -> dict:
    return {
        "external_id": external_id,
        "member": {"external_id": member},
        "total": total,
        "currency": tenant.merchant.default_currency,
        "placed_at": "2026-11-01T10:00:00Z",
    }


def test_an_order_for_a_known_member_stays_three_statements_with_its_event(tenant):
    from loyalty.services import programs

    programs.program_configure(
        merchant=tenant.merchant,
        actor=SYSTEM,
        name="P",
        points_name="Points",
        point_value=Decimal("0.01"),
        base_earn_rate=Decimal("1"),
        pending_days=14,
    )
    endpoint_make(tenant.merchant, "http://127.0.0.1:9999/hooks")
    post_json(tenant.client, ORDERS, _body(tenant, "warm", "cust-1"))
    statements = _statements(tenant.client, _body(tenant, "measured", "cust-1"))
    # The member lock, the one-statement write (with the outbox row).
    assert len(statements) == 2, statements
    assert OutboxEvent.objects.filter(type="points.earned").count() == 2
    assert "merchants_outboxevent" in statements[-1]


def test_a_new_member_costs_one_statement_more_for_member_created(tenant):
    from loyalty.services import programs

    programs.program_configure(
        merchant=tenant.merchant,
        actor=SYSTEM,
        name="P",
        points_name="Points",
        point_value=Decimal("0.01"),
        base_earn_rate=Decimal("1"),
        pending_days=14,
    )
    post_json(tenant.client, ORDERS, _body(tenant, "warm", "cust-0"))
    statements = _statements(tenant.client, _body(tenant, "measured", "cust-new"))
    # The lock that finds no one, the member's insert, its lock, member.created, the
    # write: one statement more than without webhooks (the member.created row).
    assert len(statements) == 5, statements
    assert "merchants_outboxevent" in statements[3]


def test_a_tier_upgrade_writes_its_change_member_and_event_in_one_statement(tenant):
    from loyalty.services import programs

    program = programs.program_configure(
        merchant=tenant.merchant,
        actor=SYSTEM,
        name="P",
        points_name="Points",
        point_value=Decimal("0.01"),
        base_earn_rate=Decimal("1"),
        pending_days=0,
        tiers_enabled=True,
    )
    Tier.objects.create(program=program, name="Silver", threshold=Decimal(100))
    post_json(tenant.client, ORDERS, _body(tenant, "warm", "cust-1", total="1.00"))
    statements = _statements(tenant.client, _body(tenant, "measured", "cust-1"))
    assert OutboxEvent.objects.filter(type="tier.changed").count() == 1
    # The member's read (the order, built on it, reaches a tier: it goes the locked way),
    # the lock, the write, the qualifying value, the tier change with its event (the
    # change and the member's tier were two statements before webhooks).
    assert len(statements) == 5, statements
    assert "FOR UPDATE" in statements[1]
