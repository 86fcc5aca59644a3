"""One busy member: many orders at once carry the member across several tier thresholds.

Each order waits on the member's row lock. PostgreSQL re-reads a row it waited for, but
not the rows joined to it, so a tier joined into the locking query would be the one from
before the wait (or none at all). Every order must see the tier its predecessors left."""

from decimal import Decimal

import pytest

from loyalty.models import LedgerEntry, Member, Order, Tier, TierBasis, TierChange
from loyalty.tiers import tier_for
from tests.loyalty.factories import assert_ledger_consistent, member_make, order_post
from tests.loyalty.factories import program_merchant as make_program
from tests.loyalty.test_ledger_concurrency import errors, oks, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDERS = 24
ORDER_TOTAL = "10.00"  # 10 points before the tier multiplier


def test_concurrent_orders_across_tier_thresholds_all_succeed_at_the_right_multiplier():
    merchant, program = make_program(tiers_enabled=True, tier_basis=TierBasis.POINTS)
    Tier.objects.bulk_create(
        [
            Tier(program=program, name="Silver", threshold=30, multiplier=Decimal("1.5")),
            Tier(program=program, name="Gold", threshold=80, multiplier=Decimal("2")),
            Tier(program=program, name="Platinum", threshold=150, multiplier=Decimal("3")),
        ]
    )
    tiers = list(Tier.objects.filter(program=program).order_by("threshold"))
    member = member_make(merchant)

    results = run_together(ORDERS, lambda i: order_post(merchant, member, ORDER_TOTAL))

    assert not errors(results), errors(results)
    assert len(oks(results)) == ORDERS == Order.objects.filter(member=member).count()
    member = assert_ledger_consistent(member)

    # Replay the orders in the order their locks were granted: each earned at the
    # multiplier of the tier that the points before it had reached.
    lifetime = 0
    for entry in LedgerEntry.objects.filter(member=member).order_by("id"):
        reached = tier_for(tiers, Decimal(lifetime))
        multiplier = reached.multiplier if reached else Decimal(1)
        assert entry.points == int(Decimal(10) * multiplier), (entry, reached)
        lifetime += entry.points
    assert member.lifetime_points == lifetime
    assert member.tier_id == tiers[-1].pk
    moves = list(TierChange.objects.filter(member=member).order_by("id"))
    assert [(m.from_tier_id, m.to_tier_id) for m in moves] == [
        (None, tiers[0].pk),
        (tiers[0].pk, tiers[1].pk),
        (tiers[1].pk, tiers[2].pk),
    ]
    assert Member.objects.get(pk=member.pk).tier_id == tiers[2].pk
