import itertools
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from core.actors import SYSTEM, Actor
from core.exceptions import InvalidTransition, ReasonRequired
from merchants.exceptions import OnboardingIncomplete
from merchants.models import (
    MERCHANT_TRANSITIONS,
    ChecklistItem,
    FeePlan,
    Merchant,
    MerchantEvent,
    MerchantStatus,
)
from merchants.selectors import checklist_missing, merchant_transition_path
from merchants.services import api_keys, billing, lifecycle, stores, team
from tests.merchants.factories import MerchantFactory, StaffFactory, complete_checklist, issue_key

ALL_MOVES = list(itertools.product(MerchantStatus.values, MerchantStatus.values))
ILLEGAL_MOVES = [(a, b) for a, b in ALL_MOVES if b not in MERCHANT_TRANSITIONS[a]]
LEGAL_MOVES = [(a, b) for a, b in ALL_MOVES if b in MERCHANT_TRANSITIONS[a]]


def _force_status(merchant: Merchant, status: str) -> Merchant:
    # Test set-up only: put a merchant straight into a status to test the move out of it.
    Merchant.objects.filter(pk=merchant.pk).update(status=status)
    merchant.refresh_from_db()
    return merchant


@pytest.mark.django_db
def test_new_merchant_is_applied_with_open_checklist_and_created_event():
    merchant = MerchantFactory()
    assert merchant.status == MerchantStatus.APPLIED
    assert checklist_missing(merchant=merchant) == ChecklistItem.values
    assert list(merchant.events.values_list("kind", flat=True)) == [MerchantEvent.Kind.CREATED]


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), ILLEGAL_MOVES)
def test_every_illegal_transition_is_refused_and_changes_nothing(from_status, to_status):
    merchant = _force_status(MerchantFactory(), from_status)
    complete_checklist(merchant)
    events_before = merchant.events.count()
    with pytest.raises(InvalidTransition):
        lifecycle.merchant_transition(
            merchant=merchant, to_status=to_status, reason="try", actor=SYSTEM
        )
    merchant.refresh_from_db()
    assert merchant.status == from_status
    assert merchant.events.count() == events_before


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), LEGAL_MOVES)
def test_every_legal_transition_moves_and_records_who_when_why(from_status, to_status):
    staff = StaffFactory()
    merchant = _force_status(MerchantFactory(), from_status)
    complete_checklist(merchant)
    lifecycle.merchant_transition(
        merchant=merchant, to_status=to_status, reason="because", actor=Actor.staff(staff)
    )
    merchant.refresh_from_db()
    assert merchant.status == to_status
    assert merchant.status_changed_at is not None
    event = merchant.events.filter(kind=MerchantEvent.Kind.STATUS_CHANGED).get()
    assert (event.from_status, event.to_status) == (from_status, to_status)
    assert (event.reason, event.actor, event.actor_label) == ("because", staff, staff.username)


@pytest.mark.django_db
def test_going_live_needs_the_whole_checklist():
    merchant = _force_status(MerchantFactory(), MerchantStatus.APPROVED)
    for item in ChecklistItem.values[:-1]:
        lifecycle.checklist_item_complete(merchant=merchant, item=item, actor=SYSTEM)
    with pytest.raises(OnboardingIncomplete) as raised:
        lifecycle.merchant_transition(
            merchant=merchant, to_status=MerchantStatus.LIVE, reason="go", actor=SYSTEM
        )
    assert raised.value.extra["missing"] == [ChecklistItem.INTEGRATION_TESTED]
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.APPROVED


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_transition_without_a_reason_is_refused(reason):
    merchant = MerchantFactory()
    with pytest.raises(ReasonRequired):
        lifecycle.merchant_transition(
            merchant=merchant, to_status=MerchantStatus.IN_REVIEW, reason=reason, actor=SYSTEM
        )
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.APPLIED


@pytest.mark.django_db
def test_transition_from_a_stale_copy_uses_the_current_status():
    merchant = MerchantFactory()
    stale = Merchant.objects.get(pk=merchant.pk)
    lifecycle.merchant_transition(
        merchant=merchant, to_status=MerchantStatus.IN_REVIEW, reason="r", actor=SYSTEM
    )
    with pytest.raises(InvalidTransition):
        lifecycle.merchant_transition(
            merchant=stale, to_status=MerchantStatus.IN_REVIEW, reason="again", actor=SYSTEM
        )
    assert merchant.events.filter(kind=MerchantEvent.Kind.STATUS_CHANGED).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_from_the_same_status_let_exactly_one_win():
    merchant = _force_status(MerchantFactory(), MerchantStatus.IN_REVIEW)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def move(to_status: str) -> None:
        try:
            barrier.wait()
            lifecycle.merchant_transition(
                merchant=Merchant.objects.get(pk=merchant.pk),
                to_status=to_status,
                reason="race",
                actor=SYSTEM,
            )
            outcomes.append(to_status)
        except InvalidTransition:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=move, args=(status,))
        for status in (MerchantStatus.APPROVED, MerchantStatus.REJECTED)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merchant.refresh_from_db()
    assert sorted(outcomes).count("refused") == 1
    assert merchant.status in outcomes
    assert merchant.events.filter(kind=MerchantEvent.Kind.STATUS_CHANGED).count() == 1


@pytest.mark.django_db
def test_offboarding_revokes_every_key_and_deactivates_every_store():
    merchant = MerchantFactory(live=True)
    stores.store_create(
        merchant=merchant, name="Shop", platform="shopify", domain="a.example", actor=SYSTEM
    )
    key, _ = issue_key(merchant)
    lifecycle.merchant_transition(
        merchant=merchant,
        to_status=MerchantStatus.OFFBOARDED,
        reason="contract ended",
        actor=SYSTEM,
    )
    key.refresh_from_db()
    assert key.revoked
    assert key.revoked_at is not None
    assert not merchant.stores.filter(is_active=True).exists()
    assert merchant.events.filter(kind=MerchantEvent.Kind.API_KEY_REVOKED).count() == 1


@pytest.mark.django_db
def test_checklist_tick_is_idempotent_and_reopen_needs_a_reason():
    staff = StaffFactory()
    merchant = MerchantFactory()
    first = lifecycle.checklist_item_complete(
        merchant=merchant,
        item=ChecklistItem.CONTRACT_SIGNED,
        note="signed",
        actor=Actor.staff(staff),
    )
    again = lifecycle.checklist_item_complete(
        merchant=merchant, item=ChecklistItem.CONTRACT_SIGNED, actor=SYSTEM
    )
    assert again.completed_at == first.completed_at
    assert again.completed_by == staff
    assert merchant.events.filter(kind=MerchantEvent.Kind.CHECKLIST_COMPLETED).count() == 1
    with pytest.raises(ReasonRequired):
        lifecycle.checklist_item_reopen(
            merchant=merchant,
            item=ChecklistItem.CONTRACT_SIGNED,
            reason="",
            actor=Actor.staff(staff),
        )
    lifecycle.checklist_item_reopen(
        merchant=merchant,
        item=ChecklistItem.CONTRACT_SIGNED,
        reason="wrong file",
        actor=Actor.staff(staff),
    )
    assert ChecklistItem.CONTRACT_SIGNED in checklist_missing(merchant=merchant)


@pytest.mark.django_db
def test_fee_plan_ticks_the_checklist_and_respects_the_currency_exponent():
    merchant = MerchantFactory(country="JP", default_currency="JPY")
    with pytest.raises(ValidationError):
        billing.fee_plan_create(
            merchant=merchant,
            valid_from="2026-01-01",
            monthly_platform_fee=Decimal("100.50"),
            fee_per_active_member=Decimal("1"),
            fee_per_redemption=Decimal("10"),
            reward_margin_percent=Decimal("5"),
            actor=SYSTEM,
        )
    assert ChecklistItem.FEE_PLAN_SET in checklist_missing(merchant=merchant)
    plan = billing.fee_plan_create(
        merchant=merchant,
        valid_from="2026-01-01",
        monthly_platform_fee=Decimal("60000"),
        fee_per_active_member=Decimal("1.5"),
        fee_per_redemption=Decimal("10"),
        reward_margin_percent=Decimal("5"),
        actor=SYSTEM,
    )
    assert plan.currency == "JPY"
    assert ChecklistItem.FEE_PLAN_SET not in checklist_missing(merchant=merchant)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("monthly_platform_fee", Decimal("-1")),
        ("fee_per_active_member", Decimal("-0.01")),
        ("reward_margin_percent", Decimal("100.5")),
    ],
)
def test_fee_plan_check_constraints_hold_without_python(field, value):
    merchant = MerchantFactory()
    plan = billing.fee_plan_create(
        merchant=merchant,
        valid_from="2026-01-01",
        monthly_platform_fee=Decimal("10"),
        fee_per_active_member=Decimal("0"),
        fee_per_redemption=Decimal("0"),
        reward_margin_percent=Decimal("5"),
        actor=SYSTEM,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        FeePlan.objects.filter(pk=plan.pk).update(**{field: value})


@pytest.mark.django_db
def test_merchant_status_check_constraint_holds_without_python():
    merchant = MerchantFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Merchant.objects.filter(pk=merchant.pk).update(status="bogus")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides",
    [
        {"default_currency": "XXQ"},
        {"default_currency": "usd"},
        {"country": "ZZ"},
        {"timezone_name": "Mars/Olympus"},
        {"slug": "has spaces"},
    ],
)
def test_merchant_create_refuses_bad_input_and_creates_nothing(overrides):
    with pytest.raises(ValidationError):
        MerchantFactory(**overrides)
    assert not Merchant.objects.exists()


@pytest.mark.django_db
def test_store_webhook_secret_is_encrypted_at_rest():
    merchant = MerchantFactory()
    store, secret = stores.store_create(
        merchant=merchant, name="Shop", platform="shopify", domain="Shop.Example.com", actor=SYSTEM
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT webhook_secret FROM merchants_store WHERE id = %s", [store.pk])
        (raw,) = cursor.fetchone()
    assert secret not in raw
    store.refresh_from_db()
    assert store.webhook_secret == secret
    assert store.domain == "shop.example.com"
    rotated = stores.store_set_webhook_secret(store=store, actor=SYSTEM)
    store.refresh_from_db()
    assert store.webhook_secret == rotated != secret


@pytest.mark.django_db
def test_store_domain_is_unique_per_merchant_only():
    a, b = MerchantFactory(), MerchantFactory()
    stores.store_create(merchant=a, name="S", platform="custom", domain="x.example", actor=SYSTEM)
    stores.store_create(merchant=b, name="S", platform="custom", domain="x.example", actor=SYSTEM)
    with pytest.raises(ValidationError):
        stores.store_create(
            merchant=a, name="S2", platform="custom", domain="x.example", actor=SYSTEM
        )


@pytest.mark.parametrize(
    ("from_status", "to_status", "path"),
    [
        ("applied", "applied", []),
        ("applied", "live", ["in_review", "approved", "live"]),
        ("live", "live", []),
        ("suspended", "offboarded", ["offboarded"]),
        ("in_review", "suspended", ["approved", "live", "suspended"]),
    ],
)
def test_transition_path_is_the_shortest_run_of_allowed_moves(from_status, to_status, path):
    assert merchant_transition_path(from_status=from_status, to_status=to_status) == path


@pytest.mark.parametrize(("from_status", "to_status"), [("rejected", "live"), ("live", "applied")])
def test_transition_path_to_an_unreachable_status_raises(from_status, to_status):
    with pytest.raises(ValueError, match="cannot be reached"):
        merchant_transition_path(from_status=from_status, to_status=to_status)


@pytest.mark.django_db
def test_store_creation_and_webhook_secret_rotation_record_the_staff_user_not_the_secret():
    merchant, staff = MerchantFactory(), StaffFactory(username="ops-ben")
    store, secret = stores.store_create(
        merchant=merchant,
        name="Shop",
        platform="shopify",
        domain="shop.example.com",
        actor=Actor.staff(staff),
    )
    rotated = stores.store_set_webhook_secret(store=store, actor=Actor.staff(staff))
    events = merchant.events.filter(
        kind__in=[MerchantEvent.Kind.STORE_CREATED, MerchantEvent.Kind.WEBHOOK_SECRET_SET]
    )
    assert sorted(events.values_list("kind", "actor", "actor_label", "api_key")) == [
        (MerchantEvent.Kind.STORE_CREATED, staff.pk, "ops-ben", None),
        (MerchantEvent.Kind.WEBHOOK_SECRET_SET, staff.pk, "ops-ben", None),
    ]
    assert not any(secret in e.reason or rotated in e.reason for e in events)


@pytest.mark.django_db
def test_a_key_revoked_through_another_key_records_that_key_on_the_event():
    merchant = MerchantFactory(live=True)
    acting, _ = issue_key(merchant, name="integration")
    revoked, _ = issue_key(merchant, name="old")
    api_keys.api_key_revoke(api_key=revoked, reason="rotated", actor=Actor.api_key(acting))
    event = merchant.events.get(kind=MerchantEvent.Kind.API_KEY_REVOKED)
    assert (event.actor_id, event.api_key_id) == (None, acting.pk)
    assert event.actor_label == f"API key {acting.prefix}"


@pytest.mark.django_db
def test_a_portal_membership_change_records_who_gave_the_role():
    merchant, staff, user = MerchantFactory(), StaffFactory(), StaffFactory(username="shopkeeper")
    team.membership_set(merchant=merchant, user=user, role="owner", actor=Actor.staff(staff))
    event = merchant.events.get(kind=MerchantEvent.Kind.MEMBERSHIP_SET)
    assert (event.actor_id, event.reason) == (staff.pk, "shopkeeper: owner")
