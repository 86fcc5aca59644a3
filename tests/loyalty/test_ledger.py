"""The points ledger (loyalty.ledger) and the order/refund services that drive it.

State is built through the ledger and the services only; every scenario ends by checking
that the cached balances still are the sums of the entries (DESIGN.md rule 3)."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.actors import SYSTEM, Actor
from core.exceptions import DomainError, NotFound
from loyalty import ledger
from loyalty.exceptions import (
    IdempotencyConflict,
    InsufficientPoints,
    InvalidAdjustment,
    RefundExceedsOrder,
    SpendAlreadyRefunded,
)
from loyalty.models import LedgerEntry, LotMovement, Member, Order, PointLot, Refund
from loyalty.services import members
from tests.loyalty.factories import (
    assert_ledger_consistent,
    entries_sum,
    expire,
    member_make,
    order_post,
    points_give,
    points_take,
    program_merchant,
    refund_post,
    release_due,
)
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
DAY = datetime.timedelta(days=1)


@pytest.fixture
def merchant():
    merchant, _ = program_merchant()
    return merchant


@pytest.fixture
def pending_merchant():
    """A program whose order points wait 30 days (the return window)."""
    merchant, _ = program_merchant(pending_days=30)
    return merchant


@pytest.fixture
def member(merchant):
    return member_make(merchant)


def earn(member, points, *, at=None, available_at=None):
    at = at or timezone.now()
    return ledger.points_earn(
        member=member,
        points=points,
        at=at,
        available_at=available_at or at,
        expires_at=None,
        source_type=LedgerEntry.Source.ACTIVITY,
        source_ref="test",
        actor=Actor.system("test"),
    )


def lot_of(entry: LedgerEntry) -> PointLot:
    return PointLot.objects.get(entry=entry)


def remaining(*lots: PointLot) -> list[int]:
    return [PointLot.objects.get(pk=lot.pk).remaining for lot in lots]


def movements(entry: LedgerEntry) -> dict[int, int]:
    return {m.lot_id: m.points for m in LotMovement.objects.filter(entry=entry)}


# -- earning -----------------------------------------------------------------------------


def test_earn_available_now_is_spendable_and_forms_a_full_lot(member):
    entry = earn(member, 120)

    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.pending_points, member.lifetime_points) == (120, 0, 120)
    assert (entry.kind, entry.points, entry.pending, entry.balance_after) == (
        Kind.EARN,
        120,
        0,
        120,
    )
    lot = lot_of(entry)
    assert (lot.points, lot.remaining) == (120, 120)
    assert lot.released_at == entry.created_at


def test_earn_with_future_available_at_is_pending(member):
    now = timezone.now()
    entry = earn(member, 80, at=now, available_at=now + 30 * DAY)

    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.pending_points, member.lifetime_points) == (0, 80, 80)
    assert (entry.points, entry.pending, entry.pending_after) == (0, 80, 80)
    lot = lot_of(entry)
    assert (lot.points, lot.remaining, lot.released_at) == (80, 80, None)
    assert lot.available_at == now + 30 * DAY


@pytest.mark.parametrize("points", [0, -5])
def test_earn_of_no_points_writes_nothing(member, points):
    assert earn(member, points) is None
    assert not LedgerEntry.objects.filter(member=member).exists()
    assert not PointLot.objects.filter(member=member).exists()


# -- spending ----------------------------------------------------------------------------


def test_spend_consumes_oldest_lots_first_and_records_movements(member):
    now = timezone.now()
    # Created out of order on purpose: age is earned_at, not the row id.
    middle = lot_of(earn(member, 50, at=now - 2 * DAY))
    newest = lot_of(earn(member, 50, at=now - 1 * DAY))
    oldest = lot_of(earn(member, 30, at=now - 3 * DAY))

    entry = points_take(member, 60)

    assert remaining(oldest, middle, newest) == [0, 20, 50]
    assert movements(entry) == {oldest.pk: -30, middle.pk: -30}
    assert (entry.kind, entry.points, entry.balance_after) == (Kind.REDEEM, -60, 70)
    assert assert_ledger_consistent(member).points_balance == 70


def test_spend_never_touches_pending_lots(member):
    now = timezone.now()
    pending = lot_of(earn(member, 500, at=now - 3 * DAY, available_at=now + DAY))
    spendable = lot_of(earn(member, 40, at=now))

    with pytest.raises(InsufficientPoints):
        points_take(member, 41)
    entry = points_take(member, 40)

    assert remaining(pending, spendable) == [500, 0]
    assert movements(entry) == {spendable.pk: -40}
    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.pending_points) == (0, 500)


def test_spend_more_than_the_balance_raises_and_changes_nothing(member):
    lot = lot_of(earn(member, 100))
    points_take(member, 30)
    before = Member.objects.get(pk=member.pk)
    entries = LedgerEntry.objects.count()

    with pytest.raises(InsufficientPoints) as error:
        points_take(member, 71)

    assert error.value.extra["balance"] == 70
    after = Member.objects.get(pk=member.pk)
    assert (after.points_balance, after.lifetime_points) == (70, 100)
    assert after.updated_at == before.updated_at
    assert LedgerEntry.objects.count() == entries
    assert remaining(lot) == [70]
    assert_ledger_consistent(member)


def test_spend_of_exactly_the_balance_leaves_zero(member):
    earn(member, 10)
    earn(member, 15)
    points_take(member, 25)
    assert assert_ledger_consistent(member).points_balance == 0


@pytest.mark.parametrize("points", [0, -10])
def test_spend_of_no_points_is_refused(member, points):
    earn(member, 10)
    with pytest.raises(InvalidAdjustment):
        points_take(member, points)
    assert LedgerEntry.objects.filter(member=member).count() == 1


# -- staff adjustments -------------------------------------------------------------------


def test_adjust_credit_forms_a_lot_and_records_reason_and_actor(merchant, member):
    staff = StaffFactory()
    entry = members.member_adjust_points(
        merchant=merchant, member=member, points=75, reason="parcel lost", actor=Actor.staff(staff)
    )

    assert (entry.kind, entry.points, entry.reason) == (Kind.ADJUST, 75, "parcel lost")
    assert entry.actor == staff
    assert entry.source_ref == staff.get_username()
    lot = lot_of(entry)
    assert (lot.points, lot.remaining) == (75, 75)
    assert lot.released_at is not None
    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.lifetime_points) == (75, 75)


def test_adjust_debit_spends_oldest_lots_and_keeps_lifetime(merchant, member):
    now = timezone.now()
    older = lot_of(earn(member, 40, at=now - 2 * DAY))
    newer = lot_of(earn(member, 40, at=now - DAY))

    entry = members.member_adjust_points(
        merchant=merchant, member=member, points=-50, reason="duplicate credit", actor=SYSTEM
    )

    assert (entry.kind, entry.points, entry.reason) == (Kind.ADJUST, -50, "duplicate credit")
    assert not PointLot.objects.filter(entry=entry).exists()
    assert movements(entry) == {older.pk: -40, newer.pk: -10}
    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.lifetime_points) == (30, 80)


def test_adjust_debit_beyond_the_balance_is_refused(merchant, member):
    earn(member, 20)
    with pytest.raises(InsufficientPoints):
        members.member_adjust_points(
            merchant=merchant, member=member, points=-21, reason="oops", actor=SYSTEM
        )
    assert assert_ledger_consistent(member).points_balance == 20


@pytest.mark.parametrize("reason", ["", "   ", None])
@pytest.mark.parametrize("points", [10, -10])
def test_adjust_without_a_reason_is_refused(merchant, member, reason, points):
    earn(member, 50)
    with pytest.raises(InvalidAdjustment) as error:
        members.member_adjust_points(
            merchant=merchant, member=member, points=points, reason=reason, actor=SYSTEM
        )
    assert error.value.field == "reason"
    assert LedgerEntry.objects.filter(member=member).count() == 1
    assert assert_ledger_consistent(member).points_balance == 50


def test_adjust_of_zero_points_is_refused(merchant, member):
    with pytest.raises(InvalidAdjustment) as error:
        members.member_adjust_points(
            merchant=merchant, member=member, points=0, reason="nothing", actor=SYSTEM
        )
    assert error.value.field == "points"
    assert not LedgerEntry.objects.filter(member=member).exists()


# -- reversals on refund -----------------------------------------------------------------


def test_reversal_takes_the_orders_pending_points_first(pending_merchant):
    member = member_make(pending_merchant)
    points_give(member, 500)
    order = order_post(pending_merchant, member, "100.00").obj
    order_lot = PointLot.objects.get(order=order)
    assert order_lot.released_at is None

    refund = refund_post(pending_merchant, order.external_id, "40.00").obj

    assert (refund.points_reversed, refund.shortfall) == (40, 0)
    entry = LedgerEntry.objects.get(refund=refund)
    assert (entry.kind, entry.points, entry.pending, entry.shortfall) == (Kind.REVERSE, 0, -40, 0)
    assert movements(entry) == {order_lot.pk: -40}
    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.pending_points, member.lifetime_points) == (500, 60, 560)


def test_reversal_takes_the_orders_own_released_lot_before_older_lots(merchant, member):
    older = lot_of(points_give(member, 300))
    order = order_post(merchant, member, "100.00").obj
    order_lot = PointLot.objects.get(order=order)
    assert order_lot.released_at is not None

    refund = refund_post(merchant, order.external_id, "30.00").obj

    entry = LedgerEntry.objects.get(refund=refund)
    assert movements(entry) == {order_lot.pk: -30}
    assert remaining(older, order_lot) == [300, 70]
    assert refund.points_reversed == 30
    assert assert_ledger_consistent(member).points_balance == 370


def test_reversal_takes_other_lots_oldest_first_once_the_orders_lot_is_spent(merchant, member):
    now = timezone.now()
    first = lot_of(earn(member, 50, at=now - 3 * DAY))
    order = order_post(merchant, member, "100.00").obj
    order_lot = PointLot.objects.get(order=order)
    points_take(member, 80)  # FIFO: all of ``first``, 30 of the order's lot
    later = lot_of(points_give(member, 60))
    latest = lot_of(points_give(member, 60))
    assert remaining(first, order_lot, later, latest) == [0, 70, 60, 60]

    refund = refund_post(merchant, order.external_id, "100.00").obj

    entry = LedgerEntry.objects.get(refund=refund)
    assert movements(entry) == {order_lot.pk: -70, later.pk: -30}
    assert remaining(first, order_lot, later, latest) == [0, 0, 30, 60]
    assert (refund.points_reversed, refund.shortfall) == (100, 0)
    member = assert_ledger_consistent(member)
    assert member.points_balance == 90
    assert not member.has_refund_shortfall


def test_refund_after_spend_floors_balance_at_zero_and_records_the_shortfall(merchant, member):
    order = order_post(merchant, member, "100.00").obj
    points_take(member, 70)
    assert Member.objects.get(pk=member.pk).points_balance == 30

    refund = refund_post(merchant, order.external_id, "100.00").obj

    assert (refund.points_reversed, refund.shortfall) == (30, 70)
    entry = LedgerEntry.objects.get(refund=refund)
    assert (entry.points, entry.shortfall, entry.balance_after) == (-30, 70, 0)
    member = assert_ledger_consistent(member)
    assert member.points_balance == 0
    assert member.has_refund_shortfall
    order.refresh_from_db()
    assert (order.points_reversed, order.refunded_total) == (100, Decimal("100.00"))


def test_reversal_of_a_pending_order_after_other_spending_has_no_shortfall(pending_merchant):
    member = member_make(pending_merchant)
    points_give(member, 10)
    points_take(member, 10)
    order = order_post(pending_merchant, member, "100.00").obj

    refund = refund_post(pending_merchant, order.external_id, "100.00").obj

    assert (refund.points_reversed, refund.shortfall) == (100, 0)
    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.pending_points) == (0, 0)
    assert not member.has_refund_shortfall


# -- giving a spend back -----------------------------------------------------------------


def test_refund_of_a_spend_gives_back_to_the_very_lots_it_took(member):
    now = timezone.now()
    first = lot_of(earn(member, 30, at=now - 2 * DAY))
    second = lot_of(earn(member, 50, at=now - DAY))
    spend = points_take(member, 60)
    third = lot_of(earn(member, 40, at=now))
    assert remaining(first, second, third) == [0, 20, 40]

    given_back = ledger.points_refund_spend(
        spend_entry=spend, reason="supplier failed", at=now, actor=Actor.system("test")
    )

    assert (given_back.kind, given_back.points) == (Kind.REDEMPTION_REFUND, 60)
    assert given_back.source_ref == spend.source_ref
    assert movements(given_back) == {first.pk: 30, second.pk: 30}
    assert remaining(first, second, third) == [30, 50, 40]
    assert assert_ledger_consistent(member).points_balance == 120


def test_refund_of_a_spend_keeps_the_lots_expiry_dates(member):
    now = timezone.now()
    expires = now + 90 * DAY
    entry = ledger.points_earn(
        member=member,
        points=100,
        at=now,
        available_at=now,
        expires_at=expires,
        source_type=LedgerEntry.Source.ACTIVITY,
        actor=Actor.system("test"),
    )
    spend = points_take(member, 100)
    ledger.points_refund_spend(
        spend_entry=spend, reason="failed", at=now, actor=Actor.system("test")
    )

    lot = lot_of(entry)
    assert (lot.remaining, lot.expires_at) == (100, expires)
    assert PointLot.objects.filter(member=member).count() == 1
    assert_ledger_consistent(member)


def test_refund_of_a_spend_after_a_refund_shortfall_keeps_the_ledger_whole(merchant, member):
    order = order_post(merchant, member, "100.00").obj
    spend = points_take(member, 100)
    refund_post(merchant, order.external_id, "100.00")  # shortfall 100

    # The redemption then fails: its points must be given back without an error.
    ledger.points_refund_spend(
        spend_entry=spend, reason="supplier failed", at=timezone.now(), actor=Actor.system("test")
    )

    member.refresh_from_db()
    assert (member.points_balance, member.lifetime_points) == (100, 100)
    assert_ledger_consistent(member)


def test_a_spend_is_given_back_once_only(merchant, member):
    order_post(merchant, member, "100.00")
    spend = points_take(member, 40)
    ledger.points_refund_spend(
        spend_entry=spend, reason="supplier failed", at=timezone.now(), actor=Actor.system("test")
    )
    with pytest.raises(SpendAlreadyRefunded):
        ledger.points_refund_spend(
            spend_entry=spend, reason="again", at=timezone.now(), actor=Actor.system("test")
        )
    member.refresh_from_db()
    assert member.points_balance == 100
    assert_ledger_consistent(member)


# -- release and expiry ------------------------------------------------------------------


def test_release_lots_makes_pending_points_spendable(member):
    now = timezone.now()
    due = lot_of(earn(member, 60, at=now - 40 * DAY, available_at=now - DAY))
    later = lot_of(earn(member, 25, at=now, available_at=now + 30 * DAY))

    entry = release_due(member, now)

    assert (entry.kind, entry.points, entry.pending) == (Kind.RELEASE, 60, -60)
    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.released_at, due.remaining) == (now, 60)
    assert later.released_at is None
    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.pending_points) == (60, 25)
    points_take(member, 60)
    assert release_due(member, now) is None


def test_release_of_a_partly_reversed_lot_releases_what_is_left(pending_merchant):
    member = member_make(pending_merchant)
    order = order_post(pending_merchant, member, "100.00").obj
    refund_post(pending_merchant, order.external_id, "25.00")
    PointLot.objects.filter(order=order).update(available_at=timezone.now() - DAY)

    entry = release_due(member)

    assert (entry.points, entry.pending) == (75, -75)
    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.pending_points, member.lifetime_points) == (75, 0, 75)


def test_expire_lots_expires_what_is_left_of_each_lot(member):
    now = timezone.now()
    partly_spent = lot_of(earn(member, 100, at=now - 2 * DAY))
    whole = lot_of(earn(member, 40, at=now - DAY))
    kept = lot_of(earn(member, 10, at=now))
    points_take(member, 30)

    entry = expire(member, [partly_spent.pk, whole.pk], now)

    assert (entry.kind, entry.points) == (Kind.EXPIRE, -110)
    assert movements(entry) == {partly_spent.pk: -70, whole.pk: -40}
    assert remaining(partly_spent, whole, kept) == [0, 0, 10]
    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.lifetime_points) == (10, 150)


def test_expire_lots_of_spent_lots_writes_nothing(member):
    lot = lot_of(earn(member, 20))
    points_take(member, 20)
    assert expire(member, [lot.pk]) is None
    assert not LedgerEntry.objects.filter(member=member, kind=Kind.EXPIRE).exists()
    assert_ledger_consistent(member)


# -- sums and running balances over a mixed history ---------------------------------------


def test_entries_add_up_to_the_cached_balances_after_a_mixed_history(pending_merchant):
    member = member_make(pending_merchant)
    now = timezone.now()
    points_give(member, 200)
    pending_order = order_post(pending_merchant, member, "80.00").obj
    old_order = order_post(pending_merchant, member, "50.00", placed_at=now - 40 * DAY).obj
    spend = points_take(member, 120)
    refund_post(pending_merchant, pending_order.external_id, "20.00")
    refund_post(pending_merchant, old_order.external_id, "50.00")
    ledger.points_refund_spend(
        spend_entry=spend, reason="failed", at=timezone.now(), actor=Actor.system("test")
    )
    PointLot.objects.filter(order=pending_order).update(available_at=now - DAY)
    release_due(member)
    points_take(member, 30)

    member = assert_ledger_consistent(member)
    assert entries_sum(member) == (member.points_balance, member.pending_points)
    # 200 + 50 (released at once) - 120 + 120 - 50 + 60 (released) - 30
    assert (member.points_balance, member.pending_points) == (230, 0)
    assert member.lifetime_points == 200 + 80 + 50 - 20 - 50


# -- database constraints (the last line of defence) -------------------------------------


def _refused(queryset, **values):
    with pytest.raises(IntegrityError), transaction.atomic():
        queryset.update(**values)


def test_database_refuses_a_negative_member_balance(member):
    _refused(Member.objects.filter(pk=member.pk), points_balance=-1)


def test_database_refuses_negative_pending_points(member):
    _refused(Member.objects.filter(pk=member.pk), pending_points=-1)


def test_database_refuses_a_balance_above_lifetime_points(member):
    earn(member, 10)
    _refused(Member.objects.filter(pk=member.pk), points_balance=11)


def test_database_refuses_a_lot_remaining_above_its_points(member):
    lot = lot_of(earn(member, 10))
    _refused(PointLot.objects.filter(pk=lot.pk), remaining=F("points") + 1)


def test_database_refuses_a_negative_lot_remaining(member):
    lot = lot_of(earn(member, 10))
    _refused(PointLot.objects.filter(pk=lot.pk), remaining=-1)


def test_database_refuses_a_lot_of_no_points(member):
    lot = lot_of(earn(member, 10))
    _refused(PointLot.objects.filter(pk=lot.pk), points=0, remaining=0)


def test_database_refuses_a_negative_entry_balance_after(member):
    entry = earn(member, 10)
    _refused(LedgerEntry.objects.filter(pk=entry.pk), balance_after=-1)


def test_database_refuses_a_negative_entry_pending_after(member):
    entry = earn(member, 10)
    _refused(LedgerEntry.objects.filter(pk=entry.pk), pending_after=-1)


def test_database_refuses_a_negative_shortfall(member):
    entry = earn(member, 10)
    _refused(LedgerEntry.objects.filter(pk=entry.pk), shortfall=-1)


def test_database_refuses_an_unknown_entry_kind(member):
    entry = earn(member, 10)
    _refused(LedgerEntry.objects.filter(pk=entry.pk), kind="gift")


def test_database_refuses_an_empty_lot_movement(member):
    earn(member, 10)
    spend = points_take(member, 5)
    _refused(LotMovement.objects.filter(entry=spend), points=0)


def test_database_refuses_reversing_more_than_an_order_earned(merchant, member):
    order = order_post(merchant, member, "10.00").obj
    _refused(Order.objects.filter(pk=order.pk), points_reversed=F("points_earned") + 1)


def test_database_refuses_refunds_above_the_order_total(merchant, member):
    order = order_post(merchant, member, "10.00").obj
    _refused(Order.objects.filter(pk=order.pk), refunded_total=Decimal("10.01"))


# -- orders ------------------------------------------------------------------------------


def test_order_earns_points_and_replays_the_same_body(merchant, member):
    placed_at = timezone.now() - DAY
    first = order_post(merchant, member, "123.45", external_id="o-1", placed_at=placed_at)
    again = order_post(merchant, member, "123.45", external_id="o-1", placed_at=placed_at)

    assert not first.replayed
    assert again.replayed
    assert again.obj.pk == first.obj.pk
    assert first.obj.points_earned == 123
    assert Order.objects.filter(merchant=merchant).count() == 1
    assert LedgerEntry.objects.filter(member=member, kind=Kind.EARN).count() == 1
    assert assert_ledger_consistent(member).points_balance == 123


def test_order_same_external_id_with_another_body_is_a_conflict(merchant, member):
    placed_at = timezone.now() - DAY
    order_post(merchant, member, "50.00", external_id="o-1", placed_at=placed_at)

    with pytest.raises(IdempotencyConflict):
        order_post(merchant, member, "60.00", external_id="o-1", placed_at=placed_at)

    assert Order.objects.filter(merchant=merchant).count() == 1
    assert assert_ledger_consistent(member).points_balance == 50


def test_order_external_ids_are_per_merchant(merchant, member):
    other, _ = program_merchant()
    other_member = member_make(other, external_id=member.external_id)
    placed_at = timezone.now()
    order_post(merchant, member, "10.00", external_id="o-1", placed_at=placed_at)
    recorded = order_post(other, other_member, "20.00", external_id="o-1", placed_at=placed_at)

    assert not recorded.replayed
    assert assert_ledger_consistent(member).points_balance == 10
    assert assert_ledger_consistent(other_member).points_balance == 20


def test_order_points_are_pending_until_the_return_window_passes(pending_merchant):
    member = member_make(pending_merchant)
    order = order_post(pending_merchant, member, "100.00").obj
    lot = PointLot.objects.get(order=order)
    assert lot.available_at >= order.placed_at + 30 * DAY

    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.pending_points) == (0, 100)
    with pytest.raises(InsufficientPoints):
        points_take(member, 1)
    assert release_due(member) is None

    PointLot.objects.filter(pk=lot.pk).update(available_at=timezone.now() - DAY)
    release_due(member)
    points_take(member, 100)

    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.pending_points, member.lifetime_points) == (0, 0, 100)


def test_order_placed_before_the_return_window_is_spendable_at_once(pending_merchant):
    member = member_make(pending_merchant)
    order_post(pending_merchant, member, "100.00", placed_at=timezone.now() - 31 * DAY)
    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.pending_points) == (100, 0)


# -- refunds -----------------------------------------------------------------------------


def test_partial_refunds_take_back_points_in_proportion(merchant, member):
    order = order_post(merchant, member, "100.00").obj

    quarter = refund_post(merchant, order.external_id, "25.00").obj
    rest = refund_post(merchant, order.external_id, "75.00").obj

    assert (quarter.points_reversed, rest.points_reversed) == (25, 75)
    order.refresh_from_db()
    assert (order.points_reversed, order.refunded_total) == (100, Decimal("100.00"))
    member = assert_ledger_consistent(member)
    assert (member.points_balance, member.lifetime_points) == (0, 0)


def test_uneven_partial_refunds_take_back_exactly_what_was_earned(merchant, member):
    order = order_post(merchant, member, "99.99").obj
    assert order.points_earned == 99

    reversed_ = [
        refund_post(merchant, order.external_id, amount).obj.points_reversed
        for amount in ("33.33", "33.33", "33.33")
    ]

    assert reversed_ == [33, 33, 33]
    assert sum(reversed_) == 99
    assert assert_ledger_consistent(member).points_balance == 0


def test_refund_replays_the_same_body_and_conflicts_on_another(merchant, member):
    order = order_post(merchant, member, "100.00").obj
    first = refund_post(merchant, order.external_id, "10.00", external_id="r-1")
    again = refund_post(merchant, order.external_id, "10.00", external_id="r-1")

    assert again.replayed
    assert again.obj.pk == first.obj.pk
    with pytest.raises(IdempotencyConflict):
        refund_post(merchant, order.external_id, "20.00", external_id="r-1")

    assert Refund.objects.filter(order=order).count() == 1
    assert LedgerEntry.objects.filter(member=member, kind=Kind.REVERSE).count() == 1
    assert assert_ledger_consistent(member).points_balance == 90


def test_refund_beyond_the_order_total_is_refused_and_changes_nothing(merchant, member):
    order = order_post(merchant, member, "100.00").obj
    refund_post(merchant, order.external_id, "60.00")

    with pytest.raises(RefundExceedsOrder):
        refund_post(merchant, order.external_id, "40.01")

    order.refresh_from_db()
    assert (order.refunded_total, order.points_reversed) == (Decimal("60.00"), 60)
    assert Refund.objects.filter(order=order).count() == 1
    assert assert_ledger_consistent(member).points_balance == 40


def test_refund_in_another_currency_is_refused(merchant, member):
    order = order_post(merchant, member, "100.00").obj

    with pytest.raises(DomainError) as error:
        refund_post(merchant, order.external_id, "10.00", currency="EUR")

    assert error.value.field == "currency"
    assert not Refund.objects.filter(order=order).exists()
    assert assert_ledger_consistent(member).points_balance == 100
    assert refund_post(merchant, order.external_id, "10.00", currency="USD").obj.points_reversed


@pytest.mark.parametrize(
    ("amount", "field"), [("0", "amount"), ("-5", "amount"), ("1.001", "amount")]
)
def test_refund_of_an_invalid_amount_is_refused(merchant, member, amount, field):
    order = order_post(merchant, member, "100.00").obj
    with pytest.raises(DomainError) as error:
        refund_post(merchant, order.external_id, amount)
    assert error.value.field == field
    assert not Refund.objects.filter(order=order).exists()
    assert_ledger_consistent(member)


def test_refund_of_another_merchants_order_is_not_found(merchant, member):
    order = order_post(merchant, member, "100.00").obj
    other, _ = program_merchant()

    with pytest.raises(NotFound):
        refund_post(other, order.external_id, "10.00")

    assert not Refund.objects.exists()
    assert assert_ledger_consistent(member).points_balance == 100


def test_refund_through_the_service_after_spending_records_the_shortfall(merchant, member):
    order = order_post(merchant, member, "100.00").obj
    points_take(member, 90)

    half = refund_post(merchant, order.external_id, "50.00").obj
    rest = refund_post(merchant, order.external_id, "50.00").obj

    assert (half.points_reversed, half.shortfall) == (10, 40)
    assert (rest.points_reversed, rest.shortfall) == (0, 50)
    member = assert_ledger_consistent(member)
    # Lifetime loses only what was taken back; the 90 spent stay the member's.
    assert (member.points_balance, member.lifetime_points) == (0, 90)
    assert member.has_refund_shortfall
    assert sum(LedgerEntry.objects.filter(member=member).values_list("shortfall", flat=True)) == 90
