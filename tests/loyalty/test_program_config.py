"""The merchant's config_version (renewed by triggers) and the per-process program cache."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty.exceptions import NoActiveProgram
from loyalty.models import EarningRule, Program, Tier
from loyalty.program_config import program_config
from merchants.models import Merchant
from tests.loyalty.apihelpers import post_json
from tests.loyalty.factories import program_merchant

ORDERS = "/api/v1/orders/"


def _version(merchant) -> str:
    return Merchant.objects.values_list("config_version", flat=True).get(pk=merchant.pk)


def _rule(program, **fields) -> EarningRule:
    return EarningRule.objects.create(
        program=program,
        **{"name": "Bonus", "kind": "purchase_bonus", "bonus_points": 10, **fields},
    )


@pytest.mark.django_db
def test_every_write_to_program_tiers_or_rules_renews_only_that_merchants_version():
    merchant, program = program_merchant()
    other, _other_program = program_merchant()
    other_version = _version(other)
    writes = [
        lambda: _rule(program),
        lambda: EarningRule.objects.filter(program=program).update(bonus_points=20),
        lambda: EarningRule.objects.filter(program=program).delete(),
        lambda: Tier.objects.create(program=program, name="Gold", threshold=100),
        lambda: Tier.objects.bulk_create([Tier(program=program, name="Silver", threshold=10)]),
        lambda: Tier.objects.filter(program=program).update(multiplier=Decimal("1.5")),
        lambda: Tier.objects.filter(program=program, name="Silver").delete(),
        lambda: Program.objects.filter(pk=program.pk).update(base_earn_rate=Decimal("2")),
    ]
    seen = {_version(merchant)}
    for write in writes:
        write()
        version = _version(merchant)
        assert version not in seen
        seen.add(version)
    assert _version(other) == other_version
    assert len(other_version) == 32


@pytest.mark.django_db
def test_the_cache_reads_once_per_version_and_follows_changes():
    merchant, program = program_merchant()
    version = _version(merchant)

    first = program_config(merchant_id=merchant.pk, version=version)
    with CaptureQueriesContext(connection) as captured:
        again = program_config(merchant_id=merchant.pk, version=version)
    assert again is first
    assert captured.captured_queries == []
    assert first.order_rules == ()

    rule = _rule(program)
    changed = program_config(merchant_id=merchant.pk, version=_version(merchant))
    assert [terms.id for terms in changed.order_rules] == [rule.pk]

    Program.objects.filter(pk=program.pk).update(is_active=False)
    with pytest.raises(NoActiveProgram):
        program_config(merchant_id=merchant.pk, version=_version(merchant))


@pytest.mark.django_db
def test_a_rolled_back_change_never_serves_its_config_later():
    merchant, program = program_merchant()
    with transaction.atomic():
        sid = transaction.savepoint()
        _rule(program, bonus_points=999)
        inside = program_config(merchant_id=merchant.pk, version=_version(merchant))
        assert inside.order_rules[0].bonus_points == 999
        transaction.savepoint_rollback(sid)
    # Back to no rules, under a version the rolled-back one can never equal.
    after = program_config(merchant_id=merchant.pk, version=_version(merchant))
    assert after.order_rules == ()


@pytest.mark.django_db
def test_orders_see_a_rule_change_at_once_even_one_made_without_save(tenant, program):
    def earned(external_id: str) -> int:
        body = {
            "external_id": external_id,
            "member": {"external_id": "cust-1"},
            "total": "10.00",
            "currency": tenant.merchant.default_currency,
            "placed_at": "2026-11-01T10:00:00Z",
        }
        response = post_json(tenant.client, ORDERS, body)
        assert response.status_code == 201, response.content
        return response.json()["points_earned"]

    assert earned("o-1") == 10
    rule = _rule(program, bonus_points=5)
    assert earned("o-2") == 15
    EarningRule.objects.filter(pk=rule.pk).update(bonus_points=7)  # no save(), no signal
    assert earned("o-3") == 17
    EarningRule.objects.filter(pk=rule.pk).update(is_active=False)
    assert earned("o-4") == 10


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_order_for_a_known_member_is_four_statements(tenant, program):
    body = {
        "external_id": "warm",
        "member": {"external_id": "cust-1"},
        "total": "120.00",
        "currency": tenant.merchant.default_currency,
        "placed_at": "2026-11-01T10:00:00Z",
        "lines": [{"sku": "A", "category": "c", "quantity": 1, "unit_price": "120.00"}],
    }
    _rule(program)
    assert post_json(tenant.client, ORDERS, body).status_code == 201
    with CaptureQueriesContext(connection) as captured:
        response = post_json(tenant.client, ORDERS, {**body, "external_id": "measured"})
    assert response.status_code == 201, response.content
    statements = [query["sql"] for query in captured.captured_queries]
    # The member's read (with the config version) and the one-statement write that locks
    # and moves them (the key was verified by the first order, and is not read again for
    # a few seconds); the test's own transaction adds a savepoint around the write.
    assert len([sql for sql in statements if "SAVEPOINT" not in sql]) == 2, statements
