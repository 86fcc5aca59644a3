"""The jobs that send member messages, run as the beat runs them: expiry warnings at each
threshold of ``LOYALTY_EXPIRY_EMAIL_DAYS`` and never before, once each, lots of one day
in one email, the inactivity policy too; the lifecycle messages (welcome, tier reached
and lost, achievement completed, referral rewarded) once per source row, within the
window."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from core.actors import SYSTEM
from loyalty import events, ledger, tasks
from loyalty.messages import jobs
from loyalty.models import (
    Achievement,
    AchievementCompletion,
    ExpiryPolicy,
    Member,
    MemberMessage,
    MessageKind,
    MessageStatus,
    Program,
    Referral,
    ReferralStatus,
    ReferralTerms,
    Tier,
    TierChange,
)
from merchants.models import MerchantBrand, OutboxEvent, WebhookEventType
from tests.config.test_settings import base_env, manage  # noqa: F401 (a fixture)
from tests.loyalty.factories import member_make, program_merchant

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def shop():
    merchant, _ = program_merchant(name="Northwind Rewards", points_name="Beans")
    MerchantBrand.objects.create(merchant=merchant, shop_url="https://northwind.example/")
    return merchant


def lot(member: Member, points: int, expires_at: datetime.datetime):
    return ledger.points_adjust(
        member=Member.objects.get(pk=member.pk),
        points=points,
        reason="test",
        at=NOW - 300 * DAY,
        expires_at=expires_at,
        actor=SYSTEM,
    )


def run(now: datetime.datetime) -> jobs.MessagesResult:
    return jobs.expiry_warnings_send(now=now)


def subjects() -> list[str]:
    return [email.subject for email in mail.outbox]


# -- expiry warnings, by lot ----------------------------------------------------------------


def test_no_warning_before_the_first_threshold(shop):
    member = member_make(shop, email="ana@example.com")
    lot(member, 500, NOW + 30 * DAY + datetime.timedelta(minutes=1))

    result = run(NOW)

    assert (result.sent, mail.outbox) == (0, [])
    assert not MemberMessage.objects.exists()


def test_a_warning_at_each_threshold_once(shop):
    member = member_make(shop, email="ana@example.com")
    expires_at = NOW + 30 * DAY
    lot(member, 500, expires_at)

    run(NOW)  # 30 days before: the 30-day warning
    run(NOW + datetime.timedelta(hours=6))  # the same day again: nothing
    run(NOW + 10 * DAY)  # 20 days before: still the 30-day window, sent already
    run(NOW + 23 * DAY)  # 7 days before: the 7-day warning
    run(NOW + 25 * DAY)  # 5 days before: sent already

    keys = list(MemberMessage.objects.order_by("created_at").values_list("key", flat=True))
    assert keys == ["expiring:2026-12-31:30", "expiring:2026-12-31:7"]
    assert subjects() == ["500 Beans expire on December 31, 2026"] * 2


def test_a_member_first_seen_within_the_last_threshold_gets_only_that_warning(shop):
    member = member_make(shop, email="ana@example.com")
    lot(member, 500, NOW + 5 * DAY)

    run(NOW)

    assert list(MemberMessage.objects.values_list("key", flat=True)) == ["expiring:2026-12-06:7"]


def test_lots_that_expire_the_same_day_are_one_email_with_their_total(shop):
    member = member_make(shop, email="ana@example.com")
    lot(member, 300, NOW + 6 * DAY)
    lot(member, 200, NOW + 6 * DAY + datetime.timedelta(hours=5))
    lot(member, 1000, NOW + 20 * DAY)

    result = run(NOW)

    assert result.sent == 2
    assert sorted(subjects()) == [
        "1,000 Beans expire on December 21, 2026",
        "500 Beans expire on December 7, 2026",
    ]


def test_the_expiry_day_is_the_merchants_day(shop):
    shop.timezone = "America/Los_Angeles"
    shop.save(update_fields=["timezone"])
    member = member_make(shop, email="ana@example.com")
    # 02:00 UTC on the 8th is still the 7th in Los Angeles.
    lot(member, 300, datetime.datetime(2026, 12, 8, 2, 0, tzinfo=datetime.UTC))

    run(NOW)

    assert subjects() == ["300 Beans expire on December 7, 2026"]


def test_spent_and_already_expired_lots_are_not_announced(shop):
    member = member_make(shop, email="ana@example.com")
    lot(member, 300, NOW - DAY)

    assert run(NOW).sent == 0


def test_members_without_an_address_are_logged_once_as_skipped(shop):
    member = member_make(shop)
    lot(member, 300, NOW + 3 * DAY)

    first, second = run(NOW), run(NOW)

    assert (first.skipped, second.skipped) == (1, 0)
    message = MemberMessage.objects.get()
    assert message.status == MessageStatus.SKIPPED
    assert mail.outbox == []


def test_the_command_runs_the_job_as_of_a_time(shop, capsys):
    member = member_make(shop, email="ana@example.com")
    lot(member, 300, NOW + 3 * DAY)

    call_command("send_expiry_warnings", "--now", NOW.isoformat(), "--merchant", shop.slug)

    assert "1 sent" in capsys.readouterr().out
    assert len(mail.outbox) == 1


def test_another_merchants_members_are_left_to_their_run(shop):
    other, _ = program_merchant()
    theirs = member_make(other, email="bo@example.com")
    lot(theirs, 300, NOW + 3 * DAY)

    result = jobs.expiry_warnings_send(now=NOW, merchant_id=shop.pk)

    assert (result.sent, mail.outbox) == (0, [])


# -- expiry warnings, by inactivity ---------------------------------------------------------


@pytest.fixture
def idle_shop():
    merchant, _ = program_merchant(
        name="Idle Rewards",
        points_name="Stars",
        expiry_policy=ExpiryPolicy.INACTIVITY,
        expiry_months=12,
    )
    return merchant


def idle_member(merchant, last_activity: datetime.datetime, points: int = 400) -> Member:
    member = member_make(merchant, email="idle@example.com")
    lot(member, points, None)
    Member.objects.filter(pk=member.pk).update(last_activity_at=last_activity)
    return member


def test_inactivity_warns_of_the_whole_balance_at_each_threshold(idle_shop):
    # Last active 2025-12-29: every point expires 2026-12-29, 28 days after NOW.
    member = idle_member(idle_shop, datetime.datetime(2025, 12, 29, 12, 0, tzinfo=datetime.UTC))

    run(NOW - 3 * DAY)  # 31 days before: nothing yet
    run(NOW)
    run(NOW + DAY)
    run(NOW + 22 * DAY)

    assert list(
        MemberMessage.objects.filter(member=member)
        .order_by("created_at")
        .values_list("key", flat=True)
    ) == ["expiring:2026-12-29:30", "expiring:2026-12-29:7"]
    assert subjects() == ["400 Stars expire on December 29, 2026"] * 2


def test_an_order_that_moves_the_inactivity_date_ends_the_warnings(idle_shop):
    member = idle_member(idle_shop, NOW - datetime.timedelta(days=340))
    Member.objects.filter(pk=member.pk).update(last_activity_at=NOW)  # active again

    assert run(NOW).sent == 0


def test_inactivity_is_announced_to_the_merchants_systems_once(idle_shop):
    member = idle_member(idle_shop, datetime.datetime(2025, 12, 29, 12, 0, tzinfo=datetime.UTC))

    first = events.announce_expiring_points(now=NOW)
    again = events.announce_expiring_points(now=NOW + DAY)

    assert (first, again) == (1, 0)
    event = OutboxEvent.objects.get(type=WebhookEventType.POINTS_EXPIRING)  # one row
    assert event.subject == member.external_id
    assert event.payload["points"] == 400
    assert event.payload["expires_at"].startswith("2026-12-29T12:00")


# -- lifecycle messages ---------------------------------------------------------------------


def merchant_program(merchant) -> Program:
    return Program.objects.get(merchant=merchant, is_active=True)


def lifecycle(now=None) -> jobs.MessagesResult:
    return jobs.lifecycle_messages_send(now=now or timezone.now())


def test_a_new_member_is_welcomed_once_with_their_referral_link(shop):
    ReferralTerms.objects.create(program=merchant_program(shop), advocate_points=100)
    member = member_make(shop, email="ana@example.com", marketing_consent=True, first_name="Ana")

    first, again = lifecycle(), lifecycle()

    assert (first.sent, again.sent, again.taken) == (1, 0, 0)
    (email,) = mail.outbox
    assert email.subject == "Welcome to Northwind Rewards"
    assert "/r/" in email.body
    assert MemberMessage.objects.get(member=member).key == "welcome"


def test_members_older_than_the_window_are_not_welcomed(shop):
    member = member_make(shop, email="ana@example.com", marketing_consent=True)
    Member.objects.filter(pk=member.pk).update(created_at=timezone.now() - 8 * DAY)

    assert lifecycle().sent == 0


def tiers(merchant):
    program = merchant_program(merchant)
    silver = Tier.objects.create(program=program, name="Silver", threshold=100)
    gold = Tier.objects.create(program=program, name="Gold", threshold=500)
    return silver, gold


def change(member, from_tier, to_tier) -> TierChange:
    return TierChange.objects.create(
        member=member,
        from_tier=from_tier,
        to_tier=to_tier,
        reason="test",
        qualifying_value=Decimal(0),
    )


def test_tier_reached_and_lost_are_told_once_each(shop):
    silver, gold = tiers(shop)
    member = member_make(shop, email="ana@example.com")
    member_make(shop, email="old@example.com")  # not welcomed: no consent (skipped, logged)
    up = change(member, silver, gold)
    down = change(member, gold, None)

    lifecycle()
    lifecycle()

    by_key = {m.key: m for m in MemberMessage.objects.filter(member=member)}
    assert by_key[f"tier:{up.pk}"].kind == MessageKind.TIER_REACHED
    assert by_key[f"tier:{down.pk}"].kind == MessageKind.TIER_LOST
    assert sorted(subjects()) == [
        "You have reached Gold",
        "Your tier in Northwind Rewards has changed",
    ]
    assert "You are no longer a Gold member of Northwind Rewards." in "".join(
        email.body for email in mail.outbox
    )


def test_an_achievement_completion_is_told_once(shop):
    member = member_make(shop, email="ana@example.com")
    achievement = Achievement.objects.create(
        merchant=shop,
        program=merchant_program(shop),
        name="Three orders in 30 days",
        trigger="order",
        goal=3,
    )
    AchievementCompletion.objects.create(
        merchant=shop,
        achievement=achievement,
        member=member,
        period="ever",
        completed_at=timezone.now(),
        source="order:1",
        reason="test",
        points=50,
    )

    lifecycle()
    lifecycle()

    message = MemberMessage.objects.get(member=member, kind=MessageKind.ACHIEVEMENT_COMPLETED)
    assert message.key == f"achievement:{achievement.pk}:ever"
    assert subjects() == ["Achievement completed: Three orders in 30 days"]
    assert "We added 50 Beans to your balance." in mail.outbox[0].body


def test_a_qualified_referral_tells_both_sides_once(shop):
    advocate = member_make(shop, email="ana@example.com")
    friend = member_make(shop, email="bo@example.com")
    now = timezone.now()
    referral = Referral.objects.create(
        merchant=shop,
        advocate=advocate,
        friend=friend,
        code="ABC",
        status=ReferralStatus.QUALIFIED,
        decided_at=now,
        created_at=now,
        advocate_entry=lot(advocate, 100, None),
        friend_entry=lot(friend, 50, None),
    )

    lifecycle()
    lifecycle()

    keys = set(
        MemberMessage.objects.filter(kind=MessageKind.REFERRAL_REWARDED).values_list(
            "key", flat=True
        )
    )
    assert keys == {f"referral:{referral.pk}:advocate", f"referral:{referral.pk}:friend"}
    assert sorted(subjects()) == ["You earned 100 Beans", "You earned 50 Beans"]


@pytest.mark.parametrize("terms", [None, "disabled"])
def test_the_welcome_has_no_referral_link_without_referral_terms(shop, terms):
    if terms == "disabled":
        ReferralTerms.objects.create(program=merchant_program(shop), is_enabled=False)
    member_make(shop, email="ana@example.com", marketing_consent=True)

    lifecycle()

    (email,) = mail.outbox
    assert "/r/" not in email.body
    assert "Share your personal link" not in email.body


def test_the_beats_tasks_run_the_jobs(shop):
    member = member_make(shop, email="ana@example.com", marketing_consent=True)
    lot(member, 300, timezone.now() + 3 * DAY)

    expiring = tasks.send_expiry_warnings.delay().get()["summary"]
    lifecycle_run = tasks.send_member_messages.delay().get()["summary"]

    assert expiring.startswith("1 sent")
    assert lifecycle_run.startswith("1 sent")  # the welcome
    assert sorted(m.kind for m in MemberMessage.objects.filter(member=member)) == [
        MessageKind.POINTS_EXPIRING,
        MessageKind.WELCOME,
    ]


@pytest.mark.parametrize(("value", "expected"), [("7,30,7", "[30, 7]"), ("14", "[14]")])
def test_the_thresholds_read_as_days_largest_first(base_env, value, expected):  # noqa: F811
    result = manage(
        {**base_env, "LOYALTY_EXPIRY_EMAIL_DAYS": value},
        "shell",
        "-c",
        "from django.conf import settings; print(settings.LOYALTY_EXPIRY_EMAIL_DAYS)",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


@pytest.mark.parametrize("value", ["0", "30,seven", "-7"])
def test_thresholds_that_are_not_days_are_refused(base_env, value):  # noqa: F811
    result = manage({**base_env, "LOYALTY_EXPIRY_EMAIL_DAYS": value}, "check")

    assert result.returncode != 0
    assert "LOYALTY_EXPIRY_EMAIL_DAYS must list days of 1 or more" in result.stderr
