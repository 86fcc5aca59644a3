"""Referrals through the services: codes and links, a friend attached once with every
fraud check end to end, the review of flagged referrals, and the job that rewards both
sides only after the pending period and never for a refunded first order."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.actors import SYSTEM, Actor
from core.exceptions import InvalidTransition, NotFound, ReasonRequired
from loyalty.exceptions import MemberNotActive, ReferralCodeUnknown, ReferralRefused
from loyalty.models import (
    LedgerEntry,
    Referral,
    ReferralEvent,
    ReferralIdentity,
    ReferralStatus,
    ReferralTerms,
)
from loyalty.referrals import qualify as qualify_job
from loyalty.referrals import services
from loyalty.referrals.services import Address
from loyalty.services import members, orders
from tests.loyalty.factories import (
    assert_ledger_consistent,
    member_make,
    next_id,
    order_post,
    program_merchant,
    refund_post,
)

pytestmark = pytest.mark.django_db

Status = ReferralStatus
DAY = datetime.timedelta(days=1)
REVIEWER = Actor.system("reviewer")


@pytest.fixture
def shop():
    """A merchant whose program gives 500 points to the advocate and 250 to the friend
    for a first order of $50 or more that stands 30 days; more than 3 a week is flagged."""
    merchant, program = program_merchant()
    ReferralTerms.objects.create(
        program=program,
        advocate_points=500,
        friend_points=250,
        min_order_total=Decimal("50"),
        pending_days=30,
        weekly_limit=3,
    )
    return merchant


def advocate_of(merchant, **fields):
    member = member_make(merchant, **fields)
    return member, services.referral_code_get_or_create(member=member).code


def attach(merchant, friend, code, **kwargs) -> Referral:
    return services.referral_attach(
        merchant=merchant, friend=friend, code=code, actor=SYSTEM, **kwargs
    )


def qualify(at: datetime.datetime):
    return qualify_job.referrals_qualify(now=at)


def reason_codes(referral: Referral) -> list[str]:
    return [reason["code"] for reason in referral.reasons]


# -- codes and links --------------------------------------------------------------------------


def test_a_member_has_one_code_from_the_unambiguous_alphabet(shop):
    member = member_make(shop)

    first = services.referral_code_get_or_create(member=member)
    again = services.referral_code_get_or_create(member=member)

    assert first.pk == again.pk
    assert len(first.code) == services.CODE_LENGTH
    assert set(first.code) <= set(services.CODE_ALPHABET)
    assert not set(first.code) & set("01OIL")


def test_a_code_already_taken_is_drawn_again(shop, monkeypatch):
    _, taken = advocate_of(shop)
    draws = iter([taken, "FRESH234"])
    monkeypatch.setattr(services, "_new_code", lambda: next(draws))

    code = services.referral_code_get_or_create(member=member_make(shop))

    assert code.code == "FRESH234"


def test_the_link_is_absolute_on_the_public_base_url(settings):
    settings.PUBLIC_BASE_URL = "https://loyalty.example.com/"

    assert services.referral_link("K7QM2XPA") == "https://loyalty.example.com/r/K7QM2XPA"


# -- attaching a friend -----------------------------------------------------------------------


def test_a_clear_referral_waits_for_the_first_order_with_its_event(shop):
    advocate, code = advocate_of(shop, email="ana@example.com")
    friend = member_make(shop, email="li@example.com")

    referral = attach(shop, friend, code.lower())

    assert (referral.status, referral.reasons) == (Status.PENDING, [])
    assert (referral.advocate_id, referral.friend_id, referral.code) == (
        advocate.pk,
        friend.pk,
        code,
    )
    event = ReferralEvent.objects.get(referral=referral)
    assert (event.from_status, event.to_status) == ("", Status.PENDING)
    assert code in event.reason


def test_attaching_the_same_friend_again_returns_the_first_referral(shop):
    _, code = advocate_of(shop)
    _, other_code = advocate_of(shop)
    friend = member_make(shop)
    first = attach(shop, friend, code)

    again = attach(shop, friend, code)
    with_another_code = attach(shop, friend, other_code)

    assert again.pk == first.pk == with_another_code.pk
    assert with_another_code.code == code
    assert Referral.objects.filter(friend=friend).count() == 1
    assert ReferralEvent.objects.filter(referral=first).count() == 1


def test_an_unknown_code_or_another_merchants_code_is_refused_on_referral_code(shop):
    other, _ = program_merchant()
    _, foreign = advocate_of(other)
    friend = member_make(shop)

    for code in ("NOSUCHCODE", foreign, ""):
        with pytest.raises(ReferralCodeUnknown) as caught:
            attach(shop, friend, code)
        assert caught.value.field == "referral_code"
    assert not Referral.objects.exists()


def test_a_members_own_code_and_a_program_without_referrals_are_refused(shop):
    advocate, code = advocate_of(shop)
    with pytest.raises(ReferralRefused):
        attach(shop, advocate, code)

    ReferralTerms.objects.filter(program__merchant=shop).update(is_enabled=False)
    with pytest.raises(ReferralRefused):
        attach(shop, member_make(shop), code)
    assert not Referral.objects.exists()


def test_an_anonymised_friend_cannot_be_referred(shop):
    _, code = advocate_of(shop)
    friend = member_make(shop)
    members.member_anonymise(merchant=shop, member=friend)

    with pytest.raises(MemberNotActive):
        attach(shop, friend, code)


# -- every fraud check, end to end ------------------------------------------------------------


def test_the_same_mailbox_blocks(shop):
    _, code = advocate_of(shop, email="Ana.Lima+shop@gmail.com")
    friend = member_make(shop, email="analima@googlemail.com")

    referral = attach(shop, friend, code)

    assert (referral.status, reason_codes(referral)) == (Status.BLOCKED, ["same_email"])
    assert referral.decided_at is not None


def test_the_same_phone_blocks_whatever_its_format(shop):
    _, code = advocate_of(shop, phone="+33 6 12 34 56 78")
    friend = member_make(shop, country="FR")

    referral = attach(shop, friend, code, phone="06.12.34.56.78")

    assert (referral.status, reason_codes(referral)) == (Status.BLOCKED, ["same_phone"])


def test_a_friend_who_had_ordered_before_blocks(shop):
    _, code = advocate_of(shop)
    friend = member_make(shop)
    order_post(shop, friend, "80.00")

    referral = attach(shop, friend, code)

    assert (referral.status, reason_codes(referral)) == (Status.BLOCKED, ["not_a_new_customer"])


def test_the_same_postal_address_flags(shop):
    advocate, code = advocate_of(shop)
    services.referral_identity_note(
        member=advocate, address=Address(lines=("12, Rue de l'Église",), postal_code="75001")
    )
    friend = member_make(shop)

    referral = attach(
        shop, friend, code, address=Address(lines=("12 rue de l eglise",), postal_code="75 001")
    )

    assert (referral.status, reason_codes(referral)) == (Status.FLAGGED, ["same_address"])
    assert "Église" not in str(ReferralIdentity.objects.get(member=advocate).address_digest)


@pytest.mark.parametrize(
    ("kept", "sent", "reason"),
    [
        ({"client_ip": "203.0.113.7"}, {"client_ip": "203.0.113.7"}, "same_ip"),
        ({"device_id": "fp-123"}, {"device_id": "fp-123"}, "same_device"),
    ],
)
def test_the_same_ip_or_device_as_the_advocate_flags(shop, kept, sent, reason):
    advocate, code = advocate_of(shop)
    services.referral_identity_note(member=advocate, **kept)

    referral = attach(shop, member_make(shop), code, **sent)

    assert (referral.status, reason_codes(referral)) == (Status.FLAGGED, [reason])


def test_another_ip_or_device_is_clear(shop):
    advocate, code = advocate_of(shop)
    services.referral_identity_note(member=advocate, client_ip="203.0.113.7", device_id="a")

    referral = attach(shop, member_make(shop), code, client_ip="198.51.100.2", device_id="b")

    assert referral.status == Status.PENDING


def test_more_referrals_than_the_weekly_limit_are_flagged(shop):
    _, code = advocate_of(shop)

    made = [attach(shop, member_make(shop), code) for _ in range(4)]

    assert [referral.status for referral in made] == [Status.PENDING] * 3 + [Status.FLAGGED]
    assert reason_codes(made[-1]) == ["too_many_referrals"]


def test_referrals_older_than_a_week_do_not_count_towards_the_limit(shop):
    _, code = advocate_of(shop)
    for _ in range(3):
        attach(shop, member_make(shop), code)
    Referral.objects.update(created_at=timezone.now() - 8 * DAY)

    assert attach(shop, member_make(shop), code).status == Status.PENDING


# -- the review -------------------------------------------------------------------------------


def flagged_referral(merchant) -> Referral:
    advocate, code = advocate_of(merchant)
    services.referral_identity_note(member=advocate, device_id="shared")
    referral = attach(merchant, member_make(merchant), code, device_id="shared")
    assert referral.status == Status.FLAGGED
    return referral


def test_approving_a_flagged_referral_makes_it_wait_for_the_first_order(shop):
    referral = flagged_referral(shop)

    services.referral_approve(merchant=shop, referral=referral, reason="Roommates", actor=REVIEWER)

    referral.refresh_from_db()
    assert referral.status == Status.PENDING
    event = referral.events.last()
    assert (event.from_status, event.to_status) == (Status.FLAGGED, Status.PENDING)
    assert "Roommates" in event.reason
    assert event.actor_label == "reviewer"


def test_a_rejected_referral_never_earns(shop):
    referral = flagged_referral(shop)
    services.referral_reject(merchant=shop, referral=referral, reason="Same person", actor=REVIEWER)
    order_post(shop, referral.friend, "90.00")

    qualify(timezone.now() + 40 * DAY)

    referral.refresh_from_db()
    assert (referral.status, referral.advocate_entry_id) == (Status.REJECTED, None)
    assert not LedgerEntry.objects.filter(source_type=LedgerEntry.Source.REFERRAL).exists()


def test_a_review_needs_a_reason_a_flagged_referral_and_the_right_merchant(shop):
    referral = flagged_referral(shop)
    other, _ = program_merchant()

    with pytest.raises(ReasonRequired):
        services.referral_reject(merchant=shop, referral=referral, reason="  ", actor=REVIEWER)
    with pytest.raises(NotFound):
        services.referral_approve(merchant=other, referral=referral, reason="ok", actor=REVIEWER)
    services.referral_approve(merchant=shop, referral=referral, reason="ok", actor=REVIEWER)
    with pytest.raises(InvalidTransition):
        services.referral_reject(merchant=shop, referral=referral, reason="late", actor=REVIEWER)

    referral.refresh_from_db()
    assert referral.status == Status.PENDING


def test_a_transition_from_a_stale_status_is_refused(shop):
    referral = flagged_referral(shop)
    stale = Referral.objects.get(pk=referral.pk)
    services.referral_reject(merchant=shop, referral=referral, reason="no", actor=REVIEWER)

    with pytest.raises(InvalidTransition):
        services.referral_transition(
            referral=stale, to_status=Status.PENDING, reason="late", actor=REVIEWER
        )

    assert Referral.objects.get(pk=referral.pk).status == Status.REJECTED


# -- qualifying and rewarding -----------------------------------------------------------------


def referred_friend(merchant):
    advocate, code = advocate_of(merchant)
    friend = member_make(merchant)
    return advocate, friend, attach(merchant, friend, code)


def referral_points(member) -> int:
    return sum(
        LedgerEntry.objects.filter(
            member=member, source_type=LedgerEntry.Source.REFERRAL
        ).values_list("points", flat=True)
    )


def test_both_sides_earn_once_only_after_the_pending_period(shop):
    advocate, friend, referral = referred_friend(shop)
    now = timezone.now()
    order = order_post(shop, friend, "60.00", placed_at=now).obj

    assert qualify(now).matched == 1
    referral.refresh_from_db()
    assert (referral.first_order_id, referral.qualifies_at) == (order.pk, now + 30 * DAY)
    assert qualify(now + 29 * DAY).qualified == 0
    assert referral_points(advocate) == 0

    result = qualify(now + 30 * DAY)

    assert (result.qualified, result.points) == (1, 750)
    referral.refresh_from_db()
    assert referral.status == Status.QUALIFIED
    assert referral.advocate_entry.points == 500
    assert referral.advocate_entry.member == advocate
    assert referral.friend_entry.points == 250
    assert referral.friend_entry.member == friend
    assert qualify(now + 60 * DAY).qualified == 0
    assert (referral_points(advocate), referral_points(friend)) == (500, 250)
    advocate = assert_ledger_consistent(advocate)
    assert advocate.points_balance == 500  # spendable at once, not pending


def test_an_order_below_the_minimum_does_not_count_and_a_later_one_does(shop):
    _, friend, referral = referred_friend(shop)
    order_post(shop, friend, "49.99")
    qualify(timezone.now())
    referral.refresh_from_db()
    assert referral.first_order_id is None

    bigger = order_post(shop, friend, "50.00").obj
    qualify(timezone.now())

    referral.refresh_from_db()
    assert referral.first_order_id == bigger.pk


def test_a_refunded_first_order_voids_the_referral_before_it_qualifies(shop):
    advocate, friend, referral = referred_friend(shop)
    order = order_post(shop, friend, "60.00").obj
    qualify(timezone.now())
    refund_post(shop, order.external_id, "60.00")

    result = qualify(timezone.now() + DAY)

    assert result.voided == 1
    referral.refresh_from_db()
    assert referral.status == Status.VOID
    assert "refunded" in referral.events.last().reason
    assert qualify(timezone.now() + 40 * DAY).qualified == 0
    assert referral_points(advocate) == referral_points(friend) == 0


def test_a_partial_refund_voids_below_the_minimum_only(shop):
    _, friend, kept = referred_friend(shop)
    _, other_friend, lost = referred_friend(shop)
    one = order_post(shop, friend, "80.00").obj
    two = order_post(shop, other_friend, "80.00").obj
    qualify(timezone.now())
    refund_post(shop, one.external_id, "30.00")  # $50 left: still the minimum
    refund_post(shop, two.external_id, "30.01")

    qualify(timezone.now() + 31 * DAY)

    kept.refresh_from_db()
    lost.refresh_from_db()
    assert (kept.status, lost.status) == (Status.QUALIFIED, Status.VOID)


def test_a_blocked_referral_never_earns(shop):
    _, code = advocate_of(shop, email="same@example.com")
    friend = member_make(shop, email="same@example.com")
    referral = attach(shop, friend, code)
    order_post(shop, friend, "90.00")

    result = qualify(timezone.now() + 40 * DAY)

    assert (result.matched, result.qualified) == (0, 0)
    referral.refresh_from_db()
    assert referral.status == Status.BLOCKED
    assert referral_points(friend) == 0


def test_the_order_that_brings_the_code_is_the_first_order(shop):
    advocate, code = advocate_of(shop)
    recorded = orders.order_record(
        merchant=shop,
        data=orders.OrderInput(
            external_id=next_id("order"),
            member_external_id="new-friend",
            total=Decimal("75.00"),
            currency="USD",
            placed_at=timezone.now(),
            referral=services.ReferralInput(code=code, client_ip="198.51.100.9"),
        ),
        actor=SYSTEM,
    )

    referral = Referral.objects.get(friend=recorded.obj.member)
    assert (referral.status, referral.first_order_id) == (Status.PENDING, recorded.obj.pk)
    assert referral.client_ip == "198.51.100.9"
    assert qualify(timezone.now() + 31 * DAY).qualified == 1
    assert referral_points(advocate) == 500


def test_an_unknown_code_on_an_order_records_nothing(shop):
    external_id = next_id("order")
    with pytest.raises(ReferralCodeUnknown):
        orders.order_record(
            merchant=shop,
            data=orders.OrderInput(
                external_id=external_id,
                member_external_id="someone",
                total=Decimal("75.00"),
                currency="USD",
                placed_at=timezone.now(),
                referral=services.ReferralInput(code="WRONG123"),
            ),
            actor=SYSTEM,
        )

    assert not orders.Order.objects.filter(external_id=external_id).exists()


def test_a_referral_waits_while_the_merchant_has_no_referral_terms(shop):
    _, friend, referral = referred_friend(shop)
    order_post(shop, friend, "60.00")
    qualify(timezone.now())
    ReferralTerms.objects.filter(program__merchant=shop).delete()

    assert qualify(timezone.now() + 40 * DAY).qualified == 0
    referral.refresh_from_db()
    assert referral.status == Status.PENDING


# -- erasure and constraints ------------------------------------------------------------------


def test_erasing_a_member_clears_their_phone_and_what_the_checks_kept(shop):
    _, code = advocate_of(shop)
    friend = member_make(shop, phone="+14155550100")
    attach(
        shop,
        friend,
        code,
        client_ip="198.51.100.4",
        device_id="fp",
        address=Address(("1 Main St",)),
    )

    members.member_anonymise(merchant=shop, member=friend)

    friend.refresh_from_db()
    referral = Referral.objects.get(friend=friend)
    assert friend.phone == ""
    assert (referral.client_ip, referral.device_id) == (None, "")
    assert not ReferralIdentity.objects.filter(member=friend).exists()


def test_the_database_refuses_a_self_referral_and_a_second_referral_of_a_friend(shop):
    advocate, friend, referral = referred_friend(shop)

    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.filter(pk=referral.pk).update(friend=advocate)
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(
            merchant=shop,
            advocate=member_make(shop),
            friend=friend,
            code="X",
            created_at=timezone.now(),
        )


# -- the scheduled job ------------------------------------------------------------------------


def test_the_job_runs_by_hand_as_a_command_and_hourly_on_the_beat(shop):
    advocate, friend, _ = referred_friend(shop)
    order_post(shop, friend, "60.00")
    later = (timezone.now() + 31 * DAY).isoformat()
    out = StringIO()

    call_command("qualify_referrals", "--now", later, "--merchant", shop.slug, stdout=out)
    call_command("qualify_referrals", "--now", later, stdout=out)

    assert "1 referral(s) qualified" in out.getvalue().splitlines()[0]
    assert referral_points(advocate) == 500
    (entry,) = [
        task
        for task in apps.get_app_config("loyalty").periodic_tasks
        if task["task"] == "loyalty.qualify_referrals"
    ]
    assert entry["crontab"].split()[1:] == ["*", "*", "*", "*"]


def test_a_side_erased_before_qualifying_earns_nothing_and_the_other_still_earns(shop):
    advocate, friend, referral = referred_friend(shop)
    order_post(shop, friend, "60.00")
    qualify(timezone.now())
    members.member_anonymise(merchant=shop, member=advocate)

    assert qualify(timezone.now() + 31 * DAY).qualified == 1

    referral.refresh_from_db()
    assert referral.advocate_entry is None
    assert referral.friend_entry.points == 250
    assert referral_points(advocate) == 0


def test_nothing_is_kept_of_an_erased_member_the_store_sends_details_for(shop):
    member = member_make(shop)
    members.member_anonymise(merchant=shop, member=member)

    members.member_upsert(
        merchant=shop,
        external_id=member.external_id,
        fields={},
        referral=services.ReferralInput(client_ip="198.51.100.4", device_id="fp"),
        actor=SYSTEM,
    )

    assert not ReferralIdentity.objects.filter(member=member).exists()
