"""The loyalty app's scheduled jobs, each run twice at the same moment on PostgreSQL and
then once more: their effects happen once (tests/jobs_twice.py). Releasing and expiring
points are proven in tests/loyalty/test_jobs_concurrency.py."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from core.actors import SYSTEM
from loyalty import ledger, tasks
from loyalty.models import (
    AchievementOccurrence,
    CampaignEvent,
    CampaignSpend,
    LedgerEntry,
    Member,
    MemberMessage,
    MemberScore,
    MessageStatus,
    Referral,
    ReferralStatus,
    ReferralTerms,
    SegmentMembership,
    StreakReset,
    Tier,
    TierChange,
)
from loyalty.referrals import services as referrals
from loyalty.reports import aggregates
from merchants.models import OutboxEvent
from tests.jobs_twice import covers, run, run_twice_at_once
from tests.loyalty.achievements.helpers import achievement_make
from tests.loyalty.campaigns.helpers import campaign_make
from tests.loyalty.factories import (
    assert_ledger_consistent,
    member_make,
    order_post,
    program_merchant,
    refund_post,
)
from tests.loyalty.reports.builders import snapshot
from tests.loyalty.segments.helpers import segment_make, where
from tests.merchants.factories import staff_in

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def no_settle_delay(settings):
    settings.REPORT_AGGREGATES_SETTLE_SECONDS = 0


def events(type_: str) -> list[tuple]:
    return sorted(OutboxEvent.objects.filter(type=type_).values_list("subject", "dedupe_key"))


@covers(tasks.qualify_referrals)
def test_qualifying_referrals_twice_at_once_rewards_each_referral_once():
    merchant, program = program_merchant()
    ReferralTerms.objects.create(
        program=program,
        advocate_points=500,
        friend_points=250,
        min_order_total=Decimal("10"),
        pending_days=0,
    )
    advocate = member_make(merchant)
    code = referrals.referral_code_get_or_create(member=advocate).code
    friends = []
    for _ in range(4):
        friend = member_make(merchant)
        referrals.referral_attach(merchant=merchant, friend=friend, code=code, actor=SYSTEM)
        order_post(merchant, friend, "40.00")
        friends.append(friend)

    results = run_twice_at_once(tasks.qualify_referrals)

    assert sum(result["rows"] for result in results) == 4
    assert set(Referral.objects.values_list("status", flat=True)) == {ReferralStatus.QUALIFIED}
    rewards = LedgerEntry.objects.filter(source_type=LedgerEntry.Source.REFERRAL)
    assert rewards.filter(member=advocate).count() == 4
    assert assert_ledger_consistent(advocate).points_balance == 4 * 500
    for friend in friends:
        assert assert_ledger_consistent(friend).points_balance == 40 + 250
    assert run(tasks.qualify_referrals)["rows"] == 0
    assert rewards.count() == 4 + 4


@covers(tasks.close_achievement_periods)
def test_closing_achievement_periods_twice_at_once_breaks_each_streak_once():
    merchant, program = program_merchant()
    streak = achievement_make(
        program, name="Weekly", window="streak", streak_unit="week", goal=Decimal(8)
    )
    rolling = achievement_make(program, name="Monthly", window="rolling", window_days=14)
    members = [member_make(merchant) for _ in range(4)]
    weeks_ago = timezone.now() - 6 * 7 * DAY
    for week in range(2):
        with time_machine.travel(weeks_ago + week * 7 * DAY):
            for member in members:
                order_post(merchant, member, "10.00")

    results = run_twice_at_once(tasks.close_achievement_periods)

    assert sum(result["rows"] for result in results) == 4
    resets = StreakReset.objects.filter(achievement=streak)
    assert sorted(resets.values_list("member_id", "length")) == [(m.pk, 2) for m in members]
    old = AchievementOccurrence.objects.filter(achievement=rolling)
    assert old.count() == 8
    assert not old.filter(reversed_at__isnull=True).exists()
    reversed_at = sorted(old.values_list("pk", "reversed_at"))
    assert run(tasks.close_achievement_periods)["rows"] == 0
    assert resets.count() == 4
    assert sorted(old.values_list("pk", "reversed_at")) == reversed_at


@covers(tasks.announce_expiring_points)
def test_announcing_expiring_points_twice_at_once_publishes_one_event_per_lot():
    merchant, _ = program_merchant()
    now = timezone.now()
    members = [member_make(merchant) for _ in range(5)]
    for n, member in enumerate(members):
        for days in (3, 10 + n):
            ledger.points_adjust(
                member=Member.objects.get(pk=member.pk),
                points=100,
                reason="test",
                at=now - 300 * DAY,
                expires_at=now + days * DAY,
                actor=SYSTEM,
            )

    results = run_twice_at_once(tasks.announce_expiring_points)

    assert sum(result["rows"] for result in results) == 10
    announced = events("points.expiring")
    assert len(announced) == len(set(announced)) == 10
    assert run(tasks.announce_expiring_points)["rows"] == 0
    assert events("points.expiring") == announced


@covers(tasks.send_expiry_warnings)
def test_sending_expiry_warnings_twice_at_once_emails_each_member_once():
    merchant, _ = program_merchant(points_name="Beans")
    now = timezone.now()
    members = [member_make(merchant, email=f"m{n}@example.com") for n in range(8)]
    for n, member in enumerate(members):
        ledger.points_adjust(
            member=Member.objects.get(pk=member.pk),
            points=100 + n,
            reason="test",
            at=now - 300 * DAY,
            expires_at=now + (3 + n % 2) * DAY,
            actor=SYSTEM,
        )
    mail.outbox.clear()

    run_twice_at_once(tasks.send_expiry_warnings)

    assert sorted(email.to[0] for email in mail.outbox) == sorted(m.email for m in members)
    messages = sorted(MemberMessage.objects.values_list("member_id", "kind", "key", "status"))
    assert len(messages) == 8
    assert {status for *_, status in messages} == {MessageStatus.SENT}
    run(tasks.send_expiry_warnings)
    assert len(mail.outbox) == 8
    assert sorted(MemberMessage.objects.values_list("member_id", "kind", "key", "status")) == (
        messages
    )


@covers(tasks.send_member_messages)
def test_sending_member_messages_twice_at_once_welcomes_each_member_once():
    merchant, _ = program_merchant()
    members = [
        member_make(merchant, email=f"w{n}@example.com", marketing_consent=True) for n in range(8)
    ]
    mail.outbox.clear()

    run_twice_at_once(tasks.send_member_messages)

    assert sorted(email.to[0] for email in mail.outbox) == sorted(m.email for m in members)
    messages = sorted(MemberMessage.objects.values_list("member_id", "kind", "key", "status"))
    assert len(messages) == 8
    assert {status for *_, status in messages} == {MessageStatus.SENT}
    run(tasks.send_member_messages)
    assert len(mail.outbox) == 8
    assert sorted(MemberMessage.objects.values_list("member_id", "kind", "key", "status")) == (
        messages
    )


@covers(tasks.recompute_tiers)
def test_recomputing_tiers_twice_at_once_moves_each_member_down_once():
    merchant, program = program_merchant(tiers_enabled=True, tier_window_months=12)
    silver = Tier.objects.create(program=program, name="Silver", threshold=100, multiplier=1)
    gold = Tier.objects.create(program=program, name="Gold", threshold=300, multiplier=1)
    members = [member_make(merchant) for _ in range(6)]
    for member in members:
        order = order_post(merchant, member, "350.00").obj
        refund_post(merchant, order.external_id, "200.00")
    assert set(Member.objects.values_list("tier", flat=True)) == {gold.pk}

    results = run_twice_at_once(tasks.recompute_tiers)

    assert sum(result["rows"] for result in results) == 6
    assert set(Member.objects.values_list("tier", flat=True)) == {silver.pk}
    downs = TierChange.objects.filter(from_tier=gold, to_tier=silver)
    assert sorted(downs.values_list("member_id", flat=True)) == [m.pk for m in members]
    assert run(tasks.recompute_tiers)["rows"] == 0
    assert TierChange.objects.filter(from_tier=gold).count() == 6


def aggregates_made() -> None:
    for _ in range(2):
        merchant, _ = program_merchant()
        for n in range(3):
            member = member_make(merchant, country="DE", points=40)
            order = order_post(merchant, member, f"{30 + n}.00").obj
            refund_post(merchant, order.external_id, "10.00")


@covers(tasks.report_aggregates_update)
def test_updating_report_aggregates_twice_at_once_counts_each_row_once():
    aggregates_made()

    results = run_twice_at_once(tasks.report_aggregates_update)

    assert sum(result["rows"] for result in results) == 2
    figures = snapshot()
    assert any(figures.values())
    run(tasks.report_aggregates_update)
    assert snapshot() == figures
    aggregates.aggregates_rebuild()
    assert snapshot() == figures


@covers(tasks.report_aggregates_reconcile)
def test_reconciling_report_aggregates_twice_at_once_counts_each_row_once():
    aggregates_made()
    aggregates.aggregates_rebuild()
    rebuilt = snapshot()

    results = run_twice_at_once(tasks.report_aggregates_reconcile)

    assert [result["rows"] for result in results] == [2 * 2, 2 * 2]
    assert snapshot() == rebuilt
    run(tasks.report_aggregates_reconcile)
    assert snapshot() == rebuilt


FRANCE = {"field": "country", "op": "in", "value": ["FR"]}


def segment_with_joiners():
    merchant, _ = program_merchant()
    segment = segment_make(merchant, where(FRANCE), name="France")
    for n in range(6):
        member_make(merchant, f"fr-{n}", country="FR")
    member_make(merchant, "de-0", country="DE")
    return segment


def segment_moves(segment) -> list[tuple]:
    return sorted(
        SegmentMembership.objects.filter(segment=segment).values_list(
            "member__external_id", "joined_at", "left_at"
        )
    )


@covers(tasks.refresh_segments)
def test_refreshing_segments_twice_at_once_records_each_join_once():
    segment = segment_with_joiners()

    run_twice_at_once(tasks.refresh_segments)

    moves = segment_moves(segment)
    assert [external_id for external_id, *_ in moves] == [f"fr-{n}" for n in range(6)]
    joined = events("segment.joined")
    assert len(joined) == 6
    run(tasks.refresh_segments)
    assert segment_moves(segment) == moves
    assert events("segment.joined") == joined


@covers(tasks.refresh_segments_full)
def test_refreshing_segments_in_full_twice_at_once_records_each_join_once():
    segment = segment_with_joiners()
    merchant = segment.merchant
    for n in range(3):
        order_post(merchant, Member.objects.get(external_id=f"fr-{n}"), f"{10 + n}.00")

    run_twice_at_once(tasks.refresh_segments_full)

    moves = segment_moves(segment)
    assert [external_id for external_id, *_ in moves] == [f"fr-{n}" for n in range(6)]
    joined = events("segment.joined")
    assert len(joined) == 6
    scores = sorted(MemberScore.objects.values_list("member_id", "recency", "frequency"))
    assert len(scores) == 3
    run(tasks.refresh_segments_full)
    assert segment_moves(segment) == moves
    assert events("segment.joined") == joined
    assert sorted(MemberScore.objects.values_list("member_id", "recency", "frequency")) == scores


@covers(tasks.advance_campaigns)
def test_advancing_campaigns_twice_at_once_moves_each_campaign_once():
    merchant, program = program_merchant()
    now = timezone.now()
    campaign_make(program, name="Starting", status="scheduled", starts_at=now - DAY)
    ending = campaign_make(program, name="Ending", status="running")
    type(ending).objects.filter(pk=ending.pk).update(ends_at=now - DAY / 24)
    spent = campaign_make(
        program, name="Spent", effect="per_unit", points_per_unit=Decimal(1), points_budget=20
    )
    order_post(merchant, member_make(merchant), "20.00")
    assert CampaignSpend.objects.get(campaign=spent).points_given == 20
    before = list(CampaignEvent.objects.values_list("pk", flat=True))
    moves = CampaignEvent.objects.exclude(pk__in=before)
    marketing = staff_in("Marketing")
    mail.outbox.clear()

    results = run_twice_at_once(tasks.advance_campaigns)

    assert sorted(moves.values_list("campaign__name", "to_status")) == [
        ("Ending", "ended"),
        ("Spent", "paused"),
        ("Starting", "running"),
    ], results
    assert [message.to for message in mail.outbox] == [[marketing.email]]
    assert CampaignSpend.objects.get(campaign=spent).exhausted_at is not None
    run(tasks.advance_campaigns)
    assert moves.count() == 3
    assert len(mail.outbox) == 1
