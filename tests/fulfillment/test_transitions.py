"""The redemption state machine: every move the map refuses is refused, with no event; a
move is a compare-and-swap, so of two at once one wins; each event names its actor."""

import json
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.actors import Actor
from core.exceptions import InvalidTransition
from fulfillment.models import Redemption, RedemptionEvent, RedemptionStatus
from fulfillment.models.redemptions import OPEN_STATUSES, REDEMPTION_TRANSITIONS
from fulfillment.services import outcomes
from fulfillment.services.transitions import (
    RedemptionMove,
    redemption_event_record,
    redemption_may_move,
    redemption_transition,
    redemptions_transition,
)
from fulfillment.tasks import process_supplier_orders
from tests.catalog.factories import (
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    merchant_with_program,
    select,
)
from tests.conftest import make_tenant
from tests.fulfillment.factories import redemption_pending, sandbox_offer
from tests.loyalty.apihelpers import post_json
from tests.loyalty.factories import member_make, points_give
from tests.merchants.factories import StaffFactory

SYSTEM = Actor.system("test")
ILLEGAL = [
    (from_status, to_status)
    for from_status in RedemptionStatus.values
    for to_status in RedemptionStatus.values
    if to_status not in REDEMPTION_TRANSITIONS[from_status]
    and not (from_status == to_status and from_status in OPEN_STATUSES)
]


def pending() -> Redemption:
    merchant, _ = merchant_with_program()
    member = member_make(merchant)
    points_give(member, 10_000)
    return redemption_pending(merchant, member, sandbox_offer(merchant))


def submitted() -> Redemption:
    """Committed, and placed with a supplier that answers "submitted" (the dispatch its
    commit queues runs at once under the test settings)."""
    merchant, _ = merchant_with_program()
    member = member_make(merchant)
    points_give(member, 10_000)
    reward = RewardFactory(denominations=["25"])
    supplier = SupplierFactory(
        slug="slow", adapter="sandbox", adapter_config=json.dumps({"seed": 3, "async_rate": 1})
    )
    offer = OfferFactory(reward=reward, supplier=supplier)
    select(merchant, reward, price_step=1)
    redemption = redemption_pending(merchant, member, offer)
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.SUBMITTED
    return redemption


def two_pending() -> tuple[Redemption, Redemption]:
    """Two pending redemptions of one member."""
    merchant, _ = merchant_with_program()
    member = member_make(merchant)
    points_give(member, 10_000)
    offer = sandbox_offer(merchant)
    return (
        redemption_pending(merchant, member, offer),
        redemption_pending(merchant, member, offer),
    )


def in_status(status: str) -> Redemption:
    redemption = pending()
    if status in (RedemptionStatus.REFUNDED, RedemptionStatus.CANCELLED):
        with transaction.atomic():
            outcomes.redemption_refund(
                redemption=redemption,
                reason="set-up",
                source="test",
                at=timezone.now(),
                status=status,
                actor=SYSTEM,
            )
    elif status != RedemptionStatus.PENDING:
        Redemption.objects.filter(pk=redemption.pk).update(status=status)
    return Redemption.objects.get(pk=redemption.pk)


def test_the_map_refuses_twenty_moves():
    # Delivered, refunded and cancelled are final (6 each, staying put included), and
    # nothing goes back to pending from submitted or failed.
    assert len(ILLEGAL) == 20


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), ILLEGAL)
def test_every_move_the_map_refuses_raises_invalid_transition_and_writes_no_event(
    from_status, to_status
):
    redemption = in_status(from_status)
    events = RedemptionEvent.objects.filter(redemption=redemption).count()
    assert not redemption_may_move(redemption=redemption, to_status=to_status)

    with pytest.raises(InvalidTransition):
        redemption_transition(
            redemption=redemption, to_status=to_status, reason="no", source="test", actor=SYSTEM
        )

    assert Redemption.objects.get(pk=redemption.pk).status == from_status
    assert RedemptionEvent.objects.filter(redemption=redemption).count() == events


@pytest.mark.django_db
def test_a_move_from_a_status_the_redemption_has_left_is_refused():
    redemption = pending()
    stale = Redemption.objects.get(pk=redemption.pk)
    redemption_transition(
        redemption=redemption,
        to_status=RedemptionStatus.SUBMITTED,
        reason="",
        source="acme",
        actor=SYSTEM,
    )

    with pytest.raises(InvalidTransition, match="became submitted meanwhile"):
        redemption_transition(
            redemption=stale,
            to_status=RedemptionStatus.FAILED,
            reason="timeout",
            source="acme",
            actor=SYSTEM,
        )

    assert Redemption.objects.get(pk=redemption.pk).status == RedemptionStatus.SUBMITTED
    assert list(redemption.events.values_list("from_value", "to_value")) == [
        ("", "pending"),
        ("pending", "submitted"),
    ]


@pytest.mark.django_db
def test_a_move_of_many_moves_each_from_its_own_status_with_one_event_each():
    first, second = two_pending()
    redemption_transition(
        redemption=second,
        to_status=RedemptionStatus.SUBMITTED,
        reason="",
        source="acme",
        actor=SYSTEM,
    )
    at = timezone.now()

    redemptions_transition(
        moves=[
            RedemptionMove(redemption=first, reason="key-1", source="acme"),
            RedemptionMove(redemption=second, reason="key-2", source="other"),
        ],
        to_status=RedemptionStatus.DELIVERED,
        changes={"delivered_at": at, "closed_at": at},
        actor=SYSTEM,
    )

    for redemption, from_status, note, source in (
        (first, "pending", "key-1", "acme"),
        (second, "submitted", "key-2", "other"),
    ):
        stored = Redemption.objects.get(pk=redemption.pk)
        assert (stored.status, stored.delivered_at, stored.closed_at) == ("delivered", at, at)
        assert redemption.status == "delivered"  # updated in place
        event = redemption.events.get(to_value="delivered")
        assert (event.from_value, event.note, event.source) == (from_status, note, source)
        assert event.actor_label == "test"


@pytest.mark.django_db
def test_a_move_of_many_with_one_that_may_not_move_moves_none():
    movable, stale = two_pending()
    Redemption.objects.filter(pk=stale.pk).update(status=RedemptionStatus.SUBMITTED)

    with pytest.raises(InvalidTransition, match="moved meanwhile"), transaction.atomic():
        redemptions_transition(
            moves=[
                RedemptionMove(redemption=movable, reason="", source="acme"),
                RedemptionMove(redemption=stale, reason="", source="acme"),
            ],
            to_status=RedemptionStatus.DELIVERED,
            actor=SYSTEM,
        )

    assert set(
        Redemption.objects.filter(pk__in=[movable.pk, stale.pk]).values_list("status", flat=True)
    ) == {"pending", "submitted"}
    assert not RedemptionEvent.objects.filter(to_value="delivered").exists()

    Redemption.objects.filter(pk=movable.pk).update(status=RedemptionStatus.DELIVERED)
    closed = Redemption.objects.get(pk=movable.pk)
    with pytest.raises(InvalidTransition, match="cannot become"):
        redemptions_transition(
            moves=[RedemptionMove(redemption=closed, reason="", source="acme")],
            to_status=RedemptionStatus.SUBMITTED,
            actor=SYSTEM,
        )


@pytest.mark.django_db
def test_an_open_redemption_staying_put_writes_its_fields_and_no_event():
    redemption = in_status(RedemptionStatus.FAILED)
    events = redemption.events.count()

    redemption_transition(
        redemption=redemption,
        to_status=RedemptionStatus.FAILED,
        reason="failed again",
        source="acme",
        changes={"care_reason": "slow supplier"},
        actor=SYSTEM,
    )

    assert Redemption.objects.get(pk=redemption.pk).care_reason == "slow supplier"
    assert redemption.events.count() == events


@pytest.mark.django_db
def test_a_status_event_is_written_only_by_the_transition():
    redemption = pending()
    with pytest.raises(ValueError, match="redemption_transition"):
        redemption_event_record(
            redemption=redemption,
            field="status",
            from_value="pending",
            to_value="delivered",
            source="test",
            note="",
            actor=SYSTEM,
        )
    assert redemption.events.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_two_moves_at_once_one_wins_and_the_other_is_refused():
    assert connection.vendor == "postgresql"
    redemption_id = submitted().pk
    loaded = threading.Barrier(2)
    outcomes_seen: list[str] = []

    def move(to_status: str) -> None:
        try:
            mine = Redemption.objects.get(pk=redemption_id)
            loaded.wait(timeout=10)  # both hold a submitted redemption before either moves
            with transaction.atomic():
                redemption_transition(
                    redemption=mine, to_status=to_status, reason="", source="t", actor=SYSTEM
                )
            outcomes_seen.append(f"moved to {to_status}")
        except InvalidTransition:
            outcomes_seen.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=move, args=(status,))
        for status in (RedemptionStatus.DELIVERED, RedemptionStatus.FAILED)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(outcomes_seen) == 2
    assert outcomes_seen.count("refused") == 1
    final = Redemption.objects.get(pk=redemption_id)
    moves = RedemptionEvent.objects.filter(redemption_id=redemption_id, from_value="submitted")
    assert moves.count() == 1
    assert moves.get().to_value == final.status
    assert f"moved to {final.status}" in outcomes_seen


@pytest.mark.django_db
def test_a_redemption_made_through_the_api_records_the_key_on_its_event():
    merchant, _ = merchant_with_program()
    member = member_make(merchant)
    points_give(member, 10_000)
    offer = sandbox_offer(merchant)
    tenant = make_tenant(merchant)

    response = post_json(
        tenant.client,
        "/api/v1/redemptions/",
        {
            "member": member.external_id,
            "reward": offer.reward_id,
            "denomination": "25",
            "recipient": {"email": "ana@example.com"},
        },
    )

    assert response.status_code == 201, response.content
    event = RedemptionEvent.objects.get(to_value=RedemptionStatus.PENDING)
    assert event.api_key == tenant.api_key
    assert event.actor is None
    assert event.actor_label == f"API key {tenant.api_key.prefix}"


@pytest.mark.django_db
def test_a_move_by_staff_records_the_user():
    redemption = pending()
    agent = StaffFactory()

    with transaction.atomic():
        outcomes.redemption_refund(
            redemption=redemption,
            reason="member asked",
            source="staff",
            at=timezone.now(),
            status=RedemptionStatus.CANCELLED,
            actor=Actor.staff(agent),
        )

    event = redemption.events.get(to_value=RedemptionStatus.CANCELLED)
    assert (event.actor, event.api_key, event.actor_label) == (agent, None, agent.get_username())


@pytest.mark.django_db
def test_a_worker_move_records_the_job():
    merchant, _ = merchant_with_program()
    member = member_make(merchant)
    points_give(member, 10_000)
    redemption = redemption_pending(merchant, member, sandbox_offer(merchant))

    process_supplier_orders(budget_seconds=5)

    event = redemption.events.get(to_value=RedemptionStatus.DELIVERED)
    assert (event.actor, event.api_key) == (None, None)
    assert event.actor_label == "process_supplier_orders"
    assert event.source == "sbx"  # the supplier that answered
