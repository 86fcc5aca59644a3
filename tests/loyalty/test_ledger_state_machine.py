"""A stateful property test of one member's ledger: any sequence of earning, spending,
adjusting, ordering, refunding, releasing and expiring keeps DESIGN.md rule 3.

Each example gets a merchant and member of its own, so examples never see each other's
rows. Time moves only through lot dates (``available_at`` set in the past), which is test
setup of the clock, not of balances."""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.actors import SYSTEM, Actor
from loyalty import ledger, locks
from loyalty.exceptions import InsufficientPoints, RefundExceedsOrder
from loyalty.models import LedgerEntry, LotMovement, Member, Order, PointLot
from loyalty.services import members
from tests.loyalty.factories import (
    assert_ledger_consistent,
    member_make,
    next_id,
    order_post,
    points_take,
    program_merchant,
    refund_post,
)

DAY = datetime.timedelta(days=1)
PENDING_DAYS = 30
CENT = Decimal("0.01")


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.merchant, _ = program_merchant(pending_days=PENDING_DAYS)
        self.member = member_make(self.merchant)
        self.spends: list[LedgerEntry] = []

    # -- helpers -------------------------------------------------------------------------

    def state(self) -> tuple[int, int, int]:
        m = Member.objects.get(pk=self.member.pk)
        return m.points_balance, m.pending_points, m.lifetime_points

    def entry_count(self) -> int:
        return LedgerEntry.objects.filter(member=self.member).count()

    def refundable_orders(self) -> list[Order]:
        return [
            order
            for order in Order.objects.filter(member=self.member).order_by("id")
            if order.refunded_total < order.total
        ]

    # -- rules ---------------------------------------------------------------------------

    @rule(points=st.integers(1, 500), pending=st.booleans(), age_days=st.integers(0, 60))
    def earn(self, points, pending, age_days):
        balance, pending_points, lifetime = self.state()
        at = timezone.now() - age_days * DAY
        available_at = at + PENDING_DAYS * DAY if pending else at
        entry = ledger.points_earn(
            member=self.member,
            points=points,
            at=at,
            available_at=available_at,
            expires_at=None,
            source_type=LedgerEntry.Source.ACTIVITY,
            actor=Actor.system("test"),
        )
        lot = PointLot.objects.get(entry=entry)
        assert (lot.points, lot.remaining) == (points, points)
        if pending:
            assert self.state() == (balance, pending_points + points, lifetime + points)
            assert lot.released_at is None
        else:
            assert self.state() == (balance + points, pending_points, lifetime + points)

    @rule(points=st.integers(1, 600))
    def spend(self, points):
        before = self.state()
        entries = self.entry_count()
        if points > before[0]:
            event("spend refused")
            with pytest.raises(InsufficientPoints):
                points_take(self.member, points)
            assert self.state() == before
            assert self.entry_count() == entries
            return
        entry = points_take(self.member, points)
        moved = LotMovement.objects.filter(entry=entry).values_list("points", flat=True)
        assert sum(moved) == -points
        assert self.state() == (before[0] - points, before[1], before[2])
        self.spends.append(entry)

    @rule(points=st.integers(-300, 300).filter(bool))
    def adjust(self, points):
        before = self.state()
        if -points > before[0]:
            with pytest.raises(InsufficientPoints):
                members.member_adjust_points(
                    merchant=self.merchant,
                    member=self.member,
                    points=points,
                    reason="r",
                    actor=SYSTEM,
                )
            assert self.state() == before
            return
        members.member_adjust_points(
            merchant=self.merchant, member=self.member, points=points, reason="r", actor=SYSTEM
        )
        lifetime = before[2] + max(points, 0)
        assert self.state() == (before[0] + points, before[1], lifetime)

    @rule(cents=st.integers(0, 30000), age_days=st.integers(0, 45))
    def record_order(self, cents, age_days):
        balance, pending_points, lifetime = self.state()
        placed_at = timezone.now() - age_days * DAY
        recorded = order_post(
            self.merchant, self.member, Decimal(cents) * CENT, placed_at=placed_at
        )
        order = recorded.obj
        assert not recorded.replayed
        assert order.points_earned == cents // 100
        earned = order.points_earned
        lots = list(PointLot.objects.filter(order=order))
        assert len(lots) == (1 if earned else 0)
        if lots and lots[0].released_at is None:
            assert self.state() == (balance, pending_points + earned, lifetime + earned)
        else:
            assert self.state() == (balance + earned, pending_points, lifetime + earned)
        # A replay earns nothing more.
        again = order_post(
            self.merchant,
            self.member,
            Decimal(cents) * CENT,
            external_id=order.external_id,
            placed_at=placed_at,
        )
        assert again.replayed
        assert again.obj.pk == order.pk
        assert self.state()[2] == lifetime + earned

    @precondition(lambda self: self.refundable_orders())
    @rule(data=st.data())
    def refund(self, data):
        order = data.draw(st.sampled_from(self.refundable_orders()), label="order")
        left = int((order.total - order.refunded_total) / CENT)
        cents = data.draw(st.integers(1, left), label="cents")
        balance, pending_points, lifetime = self.state()

        refund = refund_post(self.merchant, order.external_id, Decimal(cents) * CENT).obj

        fresh = Order.objects.get(pk=order.pk)
        asked = fresh.points_reversed - order.points_reversed
        assert 0 <= asked <= order.points_earned - order.points_reversed
        assert refund.points_reversed + refund.shortfall == asked
        after = self.state()
        taken = (balance - after[0]) + (pending_points - after[1])
        assert taken == refund.points_reversed
        # Lifetime loses what was taken back, not the shortfall (spent or expired points).
        assert after[2] == lifetime - refund.points_reversed
        if refund.shortfall:
            event("refund with shortfall")
            assert after[0] == 0
            assert Member.objects.get(pk=self.member.pk).has_refund_shortfall
        if fresh.refunded_total == fresh.total:
            assert fresh.points_reversed == fresh.points_earned

    @precondition(lambda self: self.refundable_orders())
    @rule(data=st.data())
    def refund_too_much(self, data):
        order = data.draw(st.sampled_from(self.refundable_orders()), label="order")
        before = self.state()
        with pytest.raises(RefundExceedsOrder):
            refund_post(self.merchant, order.external_id, order.total - order.refunded_total + CENT)
        assert self.state() == before
        assert Order.objects.get(pk=order.pk).refunded_total == order.refunded_total

    @rule(data=st.data())
    def release_due(self, data):
        pending = list(
            PointLot.objects.filter(member=self.member, released_at__isnull=True).order_by("id")
        )
        if pending:
            due = data.draw(st.lists(st.sampled_from(pending), unique=True), label="due lots")
            PointLot.objects.filter(pk__in=[lot.pk for lot in due]).update(
                available_at=timezone.now() - DAY
            )
        balance, pending_points, lifetime = self.state()
        now = timezone.now()
        with transaction.atomic():
            member = locks.member_lock(self.member.pk)
            lots = list(
                PointLot.objects.select_for_update()
                .filter(
                    member=member, released_at__isnull=True, remaining__gt=0, available_at__lte=now
                )
                .order_by("earned_at", "id")
            )
            points = sum(lot.remaining for lot in lots)
            entries = (
                ledger.release_lots([(member, lots)], now, actor=Actor.system("test"))
                if lots
                else []
            )
            entry = entries[0] if entries else None
        assert (entry.points if entry else 0) == points
        event(f"release of {'some' if points else 'no'} points")
        assert self.state() == (balance + points, pending_points - points, lifetime)

    @rule(data=st.data())
    def expire(self, data):
        released = list(
            PointLot.objects.filter(
                member=self.member, released_at__isnull=False, remaining__gt=0
            ).order_by("id")
        )
        if not released:
            return
        chosen = data.draw(st.lists(st.sampled_from(released), unique=True), label="lots")
        balance, pending_points, lifetime = self.state()
        with transaction.atomic():
            member = locks.member_lock(self.member.pk)
            lots = list(
                PointLot.objects.select_for_update()
                .filter(pk__in=[lot.pk for lot in chosen])
                .order_by("earned_at", "id")
            )
            points = sum(lot.remaining for lot in lots)
            ledger.expire_lots(
                [(member, lots)], timezone.now(), "test expiry", actor=Actor.system("test")
            )
        assert self.state() == (balance - points, pending_points, lifetime)
        assert not PointLot.objects.filter(pk__in=[lot.pk for lot in chosen], remaining__gt=0)

    @precondition(lambda self: self.spends)
    @rule(data=st.data())
    def refund_spend(self, data):
        spend = self.spends.pop(data.draw(st.integers(0, len(self.spends) - 1), label="spend"))
        balance, pending_points, lifetime = self.state()
        ledger.points_refund_spend(
            spend_entry=spend,
            reason="failed",
            at=timezone.now(),
            source_ref=next_id("r"),
            actor=Actor.system("test"),
        )
        assert self.state() == (balance - spend.points, pending_points, lifetime)

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def ledger_is_whole(self):
        member = assert_ledger_consistent(self.member)
        assert member.lifetime_points >= member.points_balance >= 0


@pytest.mark.django_db(transaction=True)
def test_any_sequence_of_ledger_operations_keeps_the_ledger_whole():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
