"""The scheduled jobs: releasing pending points, expiring points, recomputing tiers."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core.actors import SYSTEM, Actor
from loyalty import jobs
from loyalty.models import ExpiryPolicy, LedgerEntry, Member, PointLot, Tier, TierChange
from loyalty.services.members import member_adjust_points
from loyalty.services.orders import OrderInput, order_record
from loyalty.services.programs import program_configure
from loyalty.services.refunds import RefundInput, refund_record
from loyalty.tasks import expire_points, recompute_tiers, release_pending_points
from merchants.models import OutboxEvent
from tests.merchants.factories import MerchantFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()
DAY = datetime.timedelta(days=1)


def program_for(merchant, **terms):
    defaults = {
        "name": "Rewards",
        "points_name": "Stars",
        "point_value": Decimal("0.01"),
        "base_earn_rate": Decimal("1"),
        "pending_days": 14,
    }
    return program_configure(merchant=merchant, actor=SYSTEM, **{**defaults, **terms})


def order(merchant, member_id: str, external_id: str, total: str, placed_at=None):
    return order_record(
        merchant=merchant,
        data=OrderInput(
            external_id=external_id,
            member_external_id=member_id,
            total=Decimal(total),
            currency=merchant.default_currency,
            placed_at=placed_at or timezone.now(),
        ),
        actor=Actor.system("test"),
    ).obj


def member(merchant, external_id: str) -> Member:
    return Member.objects.get(merchant=merchant, external_id=external_id)


def assert_ledger_matches(m: Member) -> None:
    m.refresh_from_db()
    sums = LedgerEntry.objects.filter(member=m).aggregate(
        points=Sum("points"), pending=Sum("pending")
    )
    assert (sums["points"] or 0) == m.points_balance
    assert (sums["pending"] or 0) == m.pending_points
    released = PointLot.objects.filter(member=m, released_at__isnull=False).aggregate(
        left=Sum("remaining")
    )
    assert (released["left"] or 0) == m.points_balance


@pytest.fixture
def merchant():
    return MerchantFactory(live=True)


def test_release_moves_due_pending_points_to_the_balance_once(merchant):
    program_for(merchant, pending_days=14)
    order(merchant, "m1", "o1", "100")
    order(merchant, "m1", "o2", "50", placed_at=timezone.now() - 20 * DAY)  # window passed
    m = member(merchant, "m1")
    assert (m.points_balance, m.pending_points) == (50, 100)

    assert jobs.release_pending_points(now=timezone.now()).points == 0
    result = jobs.release_pending_points(now=timezone.now() + 15 * DAY)
    assert (result.members, result.lots, result.points) == (1, 1, 100)
    m.refresh_from_db()
    assert (m.points_balance, m.pending_points) == (150, 0)
    assert jobs.release_pending_points(now=timezone.now() + 15 * DAY).points == 0
    assert LedgerEntry.objects.filter(member=m, kind="release").count() == 1
    assert_ledger_matches(m)


def test_release_after_a_full_refund_releases_nothing(merchant):
    program_for(merchant, pending_days=14)
    order(merchant, "m1", "o1", "100")
    refund_record(
        merchant=merchant,
        order_external_id="o1",
        data=RefundInput("r1", Decimal("100")),
        actor=Actor.system("test"),
    )
    result = jobs.release_pending_points(now=timezone.now() + 15 * DAY)
    assert result.points == 0
    m = member(merchant, "m1")
    assert (m.points_balance, m.pending_points) == (0, 0)
    assert_ledger_matches(m)


def test_lot_age_expiry_expires_what_is_left_of_old_lots_only(merchant):
    program_for(merchant, pending_days=0, expiry_policy=ExpiryPolicy.LOT_AGE, expiry_months=12)
    order(merchant, "m1", "o1", "100")
    m = member(merchant, "m1")
    member_adjust_points(
        merchant=merchant, member=m, points=-30, reason="spent at the till", actor=SYSTEM
    )
    later = timezone.now() + datetime.timedelta(days=400)
    order(merchant, "m1", "o2", "40")  # a younger lot
    PointLot.objects.filter(order__external_id="o2").update(
        expires_at=later + datetime.timedelta(days=200)
    )
    result = jobs.expire_points(now=later)
    assert (result.members, result.points) == (1, 70)
    m.refresh_from_db()
    assert m.points_balance == 40
    entry = LedgerEntry.objects.get(member=m, kind="expire")
    assert entry.points == -70
    assert jobs.expire_points(now=later).points == 0
    assert_ledger_matches(m)


def test_inactivity_expiry_takes_everything_from_idle_members_only(merchant):
    program_for(merchant, pending_days=0, expiry_policy=ExpiryPolicy.INACTIVITY, expiry_months=6)
    order(merchant, "idle", "o1", "80")
    order(merchant, "busy", "o2", "60")
    Member.objects.filter(external_id="idle").update(
        last_activity_at=timezone.now() - datetime.timedelta(days=200)
    )
    result = jobs.expire_points(now=timezone.now())
    assert result.points == 80
    assert member(merchant, "idle").points_balance == 0
    assert member(merchant, "busy").points_balance == 60
    assert_ledger_matches(member(merchant, "idle"))


def test_expiry_never_policy_expires_nothing(merchant):
    program_for(merchant, pending_days=0)
    order(merchant, "m1", "o1", "80")
    assert jobs.expire_points(now=timezone.now() + datetime.timedelta(days=3650)).points == 0


def test_tiers_move_up_at_once_and_down_only_at_recomputation(merchant):
    program = program_for(merchant, pending_days=0, tiers_enabled=True, tier_window_months=12)
    silver = Tier.objects.create(program=program, name="Silver", threshold=100, multiplier=1)
    gold = Tier.objects.create(program=program, name="Gold", threshold=300, multiplier=2)
    order(merchant, "m1", "o1", "150")
    m = member(merchant, "m1")
    assert m.tier == silver
    order(merchant, "m1", "o2", "200")
    m.refresh_from_db()
    assert m.tier == gold
    # Gold earns double: the second order earned 400 with the tier applied only after it.
    refund_record(
        merchant=merchant,
        order_external_id="o2",
        data=RefundInput("r2", Decimal("200")),
        actor=Actor.system("test"),
    )
    m.refresh_from_db()
    assert m.tier == gold  # refunds never move a member down by themselves
    result = jobs.recompute_tiers(now=timezone.now())
    m.refresh_from_db()
    assert result.changes == 1
    assert m.tier == silver
    change = TierChange.objects.filter(member=m).first()
    assert (change.from_tier, change.to_tier, change.reason) == (
        gold,
        silver,
        "scheduled recomputation",
    )
    # A window that has passed drops the member out of every tier.
    recompute_later = timezone.now() + datetime.timedelta(days=400)
    jobs.recompute_tiers(now=recompute_later)
    m.refresh_from_db()
    assert m.tier is None


def test_jobs_walk_many_members_in_small_batches(merchant, django_assert_max_num_queries):
    program_for(merchant, pending_days=14)
    for n in range(30):
        order(merchant, f"m{n}", f"o{n}", "10")
    # Each batch of 7 members costs a bounded number of queries, whatever the lot count.
    with django_assert_max_num_queries(5 * 30 + 20):
        result = jobs.release_pending_points(now=timezone.now() + 15 * DAY, batch_size=7)
    assert (result.members, result.lots, result.points) == (30, 30, 300)
    assert not PointLot.objects.filter(released_at__isnull=True, remaining__gt=0).exists()


def test_job_writes_are_set_based_the_statements_do_not_grow_with_the_members():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements(members: int) -> tuple[int, int]:
        merchant = MerchantFactory(live=True)
        program_for(merchant, pending_days=14, expiry_policy=ExpiryPolicy.LOT_AGE, expiry_months=1)
        for n in range(members):
            order(merchant, f"m{n}", f"o{n}", "10")
        with CaptureQueriesContext(connection) as released:
            result = jobs.release_pending_points(
                now=timezone.now() + 15 * DAY, batch_size=100, merchant_id=merchant.pk
            )
        assert result.members == members
        with CaptureQueriesContext(connection) as expired:
            result = jobs.expire_points(
                now=timezone.now() + 90 * DAY, batch_size=100, merchant_id=merchant.pk
            )
        assert (result.members, result.points) == (members, 10 * members)
        for m in Member.objects.filter(merchant=merchant):
            assert (m.points_balance, m.pending_points, m.lifetime_points) == (0, 0, 10)
        return len(released.captured_queries), len(expired.captured_queries)

    assert statements(3) == statements(25)


def test_tier_recomputation_is_set_based_too():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements(members: int) -> int:
        merchant = MerchantFactory(live=True)
        program = program_for(merchant, pending_days=0, tiers_enabled=True)
        Tier.objects.create(program=program, name="Silver", threshold=Decimal(5))
        for n in range(members):
            order(merchant, f"m{n}", f"o{n}", "10")  # up to Silver at once
        Member.objects.filter(merchant=merchant).update(tier=None)  # as if demoted
        with CaptureQueriesContext(connection) as captured:
            result = jobs.recompute_tiers(
                now=timezone.now(), batch_size=100, merchant_id=merchant.pk
            )
        assert (result.members, result.changes) == (members, members)
        assert Member.objects.filter(merchant=merchant, tier__name="Silver").count() == members
        assert TierChange.objects.filter(member__merchant=merchant, reason__contains="scheduled")
        return len(captured.captured_queries)

    assert statements(3) == statements(20)


def test_jobs_can_be_limited_to_one_merchant(merchant):
    other = MerchantFactory(live=True)
    program_for(merchant)
    program_for(other)
    order(merchant, "m1", "o1", "10")
    order(other, "m1", "o1", "20")
    result = jobs.release_pending_points(now=timezone.now() + 15 * DAY, merchant_id=other.pk)
    assert result.points == 20
    assert member(merchant, "m1").pending_points == 10


def test_tasks_run_the_jobs(merchant):
    program_for(merchant, pending_days=0, tiers_enabled=True)
    order(merchant, "m1", "o1", "10")
    assert "0 point(s)" in release_pending_points.delay().get()["summary"]
    assert "0 point(s)" in expire_points.delay().get()["summary"]
    tiers = recompute_tiers.delay().get()
    assert "1 member(s)" in tiers["summary"]
    assert tiers["rows"] == 0  # the member was placed when the order arrived


def test_commands_run_by_hand_with_options(merchant):
    program_for(merchant, pending_days=14)
    order(merchant, "m1", "o1", "10")
    out = StringIO()
    later = (timezone.now() + 15 * DAY).isoformat()
    call_command("release_pending_points", "--now", later, "--merchant", merchant.slug, stdout=out)
    assert "10 point(s)" in out.getvalue()
    with pytest.raises(CommandError, match="offset"):
        call_command("expire_points", "--now", "2027-01-01T00:00")
    with pytest.raises(CommandError, match="No merchant"):
        call_command("recompute_tiers", "--merchant", "nobody")
    with pytest.raises(CommandError, match="batch-size"):
        call_command("recompute_tiers", "--batch-size", "0")


def test_the_jobs_are_scheduled_in_beat():
    tasks = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {
        "loyalty.release_pending_points",
        "loyalty.expire_points",
        "loyalty.recompute_tiers",
    } <= tasks


def test_releasing_for_members_in_a_tier_reads_their_tiers_once_a_batch():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements(members: int) -> int:
        merchant = MerchantFactory(live=True)
        program = program_for(merchant, pending_days=14, tiers_enabled=True)
        Tier.objects.create(program=program, name="Silver", threshold=Decimal(5))
        for n in range(members):
            order(merchant, f"m{n}", f"o{n}", "10")
        assert Member.objects.filter(merchant=merchant, tier__name="Silver").count() == members
        with CaptureQueriesContext(connection) as released:
            result = jobs.release_pending_points(
                now=timezone.now() + 15 * DAY, batch_size=100, merchant_id=merchant.pk
            )
        assert result.members == members
        events = OutboxEvent.objects.filter(merchant=merchant, type="points.released")
        assert {e.payload["member"]["tier"]["name"] for e in events} == {"Silver"}
        return len(released.captured_queries)

    assert statements(3) == statements(25)
