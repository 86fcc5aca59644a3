"""Shipments of physical rewards: recorded by staff or from a supplier's tracking, moved
along their pipeline with the redemption's delivery status in step, guarded by database
constraints, worked in the admin and shown in the store API."""

import json
import re
import threading
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connections, transaction
from django.urls import reverse
from django.utils import timezone

from core.actors import SYSTEM, Actor
from core.exceptions import DomainError, InvalidTransition
from core.staff_groups import staff_groups_sync
from fulfillment.adapters.base import Tracking
from fulfillment.models import Redemption, RedemptionEvent, Shipment
from fulfillment.services import dispatch, interventions, redemptions, shipments
from tests.catalog.factories import (
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    merchant_with_program,
    select,
)
from tests.conftest import assert_not_found, make_tenant
from tests.fulfillment.adapters.aggregator import Aggregator, Step
from tests.fulfillment.test_admin import WORK, act_url, change_url, staff_with
from tests.fulfillment.test_interventions import (
    POINTS,
    fresh_sandbox,  # noqa: F401 (an autouse fixture, shared)
    manual,
    order_of,
)
from tests.loyalty.factories import member_make
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db

ADDRESS = {
    "name": "Ana Lima",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}
SHIPPER = [*WORK, "fulfillment.view_shipment", "fulfillment.add_shipment"]
MOVER = [*SHIPPER, "fulfillment.change_shipment"]
SHIPMENTS = reverse("admin:fulfillment_shipment_changelist")
ROW = re.compile(
    r'class="field-number[^"]*"[^>]*><a href="' + re.escape(SHIPMENTS) + r"(\d+)/change/"
)


@pytest.fixture
def agent():
    return StaffFactory()


def physical_shop(*suppliers, member: str = "cust-1", sku: str | None = None, merchant=None):
    if merchant is None:
        merchant, _ = merchant_with_program()
    reward = RewardFactory(
        type="physical", denominations=["25"], recipient_fields=["postal_address"]
    )
    for preference, supplier in enumerate(suppliers):
        extra = {"supplier_sku": sku} if sku else {}
        OfferFactory(reward=reward, supplier=supplier, preference=preference, **extra)
    select(merchant, reward, price_step=1)
    member_make(merchant, member, points=POINTS, country="US")
    return merchant, reward


def redeem(merchant, reward, member: str = "cust-1") -> Redemption:
    return redemptions.redemption_create(
        merchant=merchant,
        data=redemptions.RedemptionInput(
            member_external_id=member,
            reward_id=reward.pk,
            value=Decimal("25"),
            recipient={"postal_address": ADDRESS},
        ),
        actor=Actor.system("test"),
    ).obj


def with_supplier(member: str = "cust-1", merchant=None) -> Redemption:
    """A physical reward's redemption whose order a manual supplier has (submitted)."""
    merchant, reward = physical_shop(manual(f"hands-{member}"), member=member, merchant=merchant)
    redemption = redeem(merchant, reward, member=member)
    dispatch.process_due(now=timezone.now())
    redemption.refresh_from_db()
    assert redemption.status == "submitted"
    return redemption


def shipped(
    redemption: Redemption, number: str = "1Z999", actor: Actor = SYSTEM, **extra
) -> Shipment:
    return shipments.shipment_add(
        redemption=redemption, carrier="UPS", tracking_number=number, actor=actor, **extra
    )


def moves(redemption: Redemption) -> list[tuple[str, str, str]]:
    return [
        (event.field, event.from_value, event.to_value)
        for event in redemption.events.filter(field__in=["shipment", "delivery"])
    ]


def state(redemption: Redemption) -> tuple:
    fresh = Redemption.objects.get(pk=redemption.pk)
    return (
        list(Shipment.objects.order_by("pk").values_list("pk", "status", "tracking_number")),
        RedemptionEvent.objects.count(),
        fresh.delivery_status,
        fresh.needs_care,
    )


# -- recording by staff ----------------------------------------------------------------------


def test_staff_record_a_shipment_with_the_address_as_it_was(agent):
    redemption = with_supplier()

    shipment = shipments.shipment_add(
        redemption=redemption,
        carrier=" DHL ",
        tracking_number="JD0001",
        tracking_url="https://dhl.example/JD0001",
        supplier_order=order_of(redemption),
        note="two boxes",
        actor=Actor.staff(agent),
    )

    assert (shipment.carrier, shipment.tracking_number, shipment.status) == (
        "DHL",
        "JD0001",
        "shipped",
    )
    assert (shipment.source, shipment.supplier_order) == ("staff", order_of(redemption))
    assert shipment.shipped_at is not None
    assert shipment.delivered_at is None
    assert shipment.address == ADDRESS
    assert redemption.delivery_status == "shipped"  # the caller's instance follows
    assert Redemption.objects.get(pk=redemption.pk).delivery_status == "shipped"
    assert moves(redemption) == [("shipment", "", "shipped"), ("delivery", "none", "shipped")]
    event = redemption.events.get(field="shipment")
    assert (event.source, event.actor) == ("staff", agent)
    assert "DHL JD0001: two boxes" in event.note
    # A snapshot: the recipient changing later does not move the parcel.
    Redemption.objects.filter(pk=redemption.pk).update(recipient={"postal_address": {}})
    assert Shipment.objects.get().address == ADDRESS


def test_a_label_only_shipment_leaves_the_delivery_status_alone(agent):
    redemption = with_supplier()
    shipment = shipped(redemption, status="label_created", actor=Actor.staff(agent))
    assert (shipment.status, shipment.shipped_at) == ("label_created", None)
    assert Redemption.objects.get(pk=redemption.pk).delivery_status == "none"
    assert moves(redemption) == [("shipment", "", "label_created")]

    shipments.shipment_move(shipment=shipment, to="shipped", actor=Actor.staff(agent))

    shipment.refresh_from_db()
    assert shipment.shipped_at is not None
    assert Redemption.objects.get(pk=redemption.pk).delivery_status == "shipped"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"carrier": ""}, "carrier"),
        ({"tracking_number": "  "}, "tracking_number"),
        ({"carrier": "x" * 61}, "carrier"),
        ({"tracking_number": "1Z\n999"}, "tracking_number"),
        ({"tracking_url": "javascript:alert(1)"}, "tracking_url"),
        ({"tracking_url": "ftp://ups.example/1Z"}, "tracking_url"),
        ({"status": "delivered"}, "status"),
        ({"status": "teleported"}, "status"),
    ],
)
def test_bad_staff_input_names_the_field_and_changes_nothing(agent, fields, field):
    redemption = with_supplier()
    before = state(redemption)
    with pytest.raises(DomainError) as caught:
        shipments.shipment_add(
            redemption=redemption,
            **{"carrier": "UPS", "tracking_number": "1Z999", **fields},
            actor=Actor.staff(agent),
        )
    assert caught.value.field == field
    assert state(redemption) == before


def test_the_same_tracking_twice_is_refused_but_another_carrier_or_redemption_is_not(agent):
    redemption = with_supplier()
    shipped(redemption, actor=Actor.staff(agent))
    before = state(redemption)
    with pytest.raises(DomainError) as caught:
        shipped(redemption, actor=Actor.staff(agent))
    assert caught.value.field == "tracking_number"
    assert state(redemption) == before

    shipments.shipment_add(
        redemption=redemption, carrier="DHL", tracking_number="1Z999", actor=Actor.staff(agent)
    )
    other = with_supplier("cust-2", merchant=redemption.merchant)
    shipped(other, actor=Actor.staff(agent))
    assert Shipment.objects.filter(tracking_number="1Z999").count() == 3


def test_only_a_redemption_with_a_supplier_ships(agent):
    merchant, reward = physical_shop(manual())
    pending = redeem(merchant, reward)  # not placed with a supplier yet
    before = state(pending)
    with pytest.raises(InvalidTransition):
        shipped(pending, actor=Actor.staff(agent))
    interventions.redemption_cancel(
        redemption=pending, reason="member left", actor=Actor.staff(agent)
    )
    with pytest.raises(InvalidTransition):
        shipped(pending, actor=Actor.staff(agent))
    assert not Shipment.objects.exists()
    assert state(pending)[0] == before[0]


def test_a_supplier_order_of_another_redemption_is_refused(agent):
    redemption = with_supplier()
    other = with_supplier("cust-2")
    with pytest.raises(DomainError) as caught:
        shipped(redemption, supplier_order=order_of(other), actor=Actor.staff(agent))
    assert caught.value.field == "supplier_order"
    assert not Shipment.objects.exists()


# -- moves ----------------------------------------------------------------------------------


def test_a_shipment_moves_along_and_the_delivery_status_follows(agent):
    redemption = with_supplier()
    shipment = shipped(redemption, actor=Actor.staff(agent))

    shipments.shipment_move(shipment=shipment, to="in_transit", actor=Actor.staff(agent))
    assert Redemption.objects.get(pk=redemption.pk).delivery_status == "shipped"
    shipments.shipment_move(
        shipment=shipment, to="delivered", note="signed", actor=Actor.staff(agent)
    )
    assert (shipment.status, shipment.delivered_at is not None) == ("delivered", True)
    assert Redemption.objects.get(pk=redemption.pk).delivery_status == "received"
    shipments.shipment_move(shipment=shipment, to="returned", actor=Actor.staff(agent))

    shipment.refresh_from_db()
    assert shipment.status == "returned"
    assert shipment.delivered_at is not None
    assert Redemption.objects.get(pk=redemption.pk).delivery_status == "returned"
    assert moves(redemption) == [
        ("shipment", "", "shipped"),
        ("delivery", "none", "shipped"),
        ("shipment", "shipped", "in_transit"),
        ("shipment", "in_transit", "delivered"),
        ("delivery", "shipped", "received"),
        ("shipment", "delivered", "returned"),
        ("delivery", "received", "returned"),
    ]
    assert all(
        event.actor == agent and event.source == "staff"
        for event in redemption.events.filter(field__in=["shipment", "delivery"])
    )
    assert "signed" in redemption.events.get(to_value="delivered", field="shipment").note


@pytest.mark.parametrize(
    ("path", "to"),
    [
        ([], "pending"),
        ([], "label_created"),
        (["in_transit"], "shipped"),
        (["lost"], "delivered"),
        (["returned"], "shipped"),
        (["delivered"], "in_transit"),
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(agent, path, to):
    redemption = with_supplier()
    shipment = shipped(redemption, actor=Actor.staff(agent))
    for step in path:
        shipments.shipment_move(shipment=shipment, to=step, actor=Actor.staff(agent))
    before = state(redemption)

    with pytest.raises(InvalidTransition) as caught:
        shipments.shipment_move(shipment=shipment, to=to, actor=Actor.staff(agent))

    assert caught.value.field == "status"
    assert state(redemption) == before


def test_an_unknown_status_is_bad_input(agent):
    redemption = with_supplier()
    shipment = shipped(redemption, actor=Actor.staff(agent))
    before = state(redemption)
    with pytest.raises(DomainError) as caught:
        shipments.shipment_move(shipment=shipment, to="teleported", actor=Actor.staff(agent))
    assert caught.value.field == "status"
    assert state(redemption) == before


def test_a_lost_parcel_puts_the_redemption_in_the_care_queue(agent):
    redemption = with_supplier()
    shipment = shipped(redemption, actor=Actor.staff(agent))

    shipments.shipment_move(shipment=shipment, to="lost", actor=Actor.staff(agent))

    redemption.refresh_from_db()
    assert redemption.needs_care
    assert "UPS 1Z999" in redemption.care_reason
    assert redemption.delivery_status == "shipped"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_moves_at_once_one_wins_and_the_other_is_refused():
    redemption = with_supplier()
    shipment = shipped(redemption)
    outcomes: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def move(to: str) -> None:
        try:
            barrier.wait()
            shipments.shipment_move(
                shipment=Shipment.objects.get(pk=shipment.pk), to=to, actor=SYSTEM
            )
            outcomes[to] = "moved"
        except InvalidTransition:
            outcomes[to] = "refused"
        finally:
            connections.close_all()

    threads = [threading.Thread(target=move, args=(to,)) for to in ("delivered", "lost")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes.values()) == ["moved", "refused"]
    winner = next(to for to, outcome in outcomes.items() if outcome == "moved")
    assert Shipment.objects.get().status == winner
    assert redemption.events.filter(field="shipment", from_value="shipped").count() == 1


# -- constraints ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"carrier": ""},
        {"status": "teleported"},
        {"source": "member"},
        {"shipped_at": None},
        {"status": "delivered", "delivered_at": None},
    ],
)
def test_the_database_refuses_a_broken_shipment(agent, changes):
    shipment = shipped(with_supplier(), actor=Actor.staff(agent))
    with pytest.raises(IntegrityError), transaction.atomic():
        Shipment.objects.filter(pk=shipment.pk).update(**changes)
    assert Shipment.objects.get(pk=shipment.pk).carrier == "UPS"


def test_the_database_refuses_the_same_tracking_twice_on_a_redemption(agent):
    redemption = with_supplier()
    shipped(redemption, "1Z-A", actor=Actor.staff(agent))
    second = shipped(redemption, "1Z-B", actor=Actor.staff(agent))
    with pytest.raises(IntegrityError), transaction.atomic():
        Shipment.objects.filter(pk=second.pk).update(tracking_number="1Z-A")
    # Without a number there is nothing to repeat: several pending parcels are fine.
    Shipment.objects.update(tracking_number="", carrier="", status="pending", shipped_at=None)
    assert Shipment.objects.filter(tracking_number="").count() == 2


# -- manual delivery and suppliers ---------------------------------------------------------


def test_a_manual_order_delivered_with_tracking_ships_to_the_members_address(agent):
    redemption = with_supplier()

    interventions.manual_order_deliver(
        supplier_order=order_of(redemption),
        codes=None,
        tracking={"carrier": "DHL", "number": "JD0001", "url": "https://dhl.example/JD0001"},
        actor=Actor.staff(agent),
    )

    redemption.refresh_from_db()
    assert (redemption.status, redemption.delivery_status) == ("delivered", "shipped")
    shipment = Shipment.objects.get(redemption=redemption)
    assert (shipment.tracking_url, shipment.address) == ("https://dhl.example/JD0001", ADDRESS)
    assert shipment.supplier_order == order_of(redemption)


def test_a_bad_tracking_link_on_a_manual_delivery_changes_nothing(agent):
    redemption = with_supplier()
    order = order_of(redemption)
    with pytest.raises(DomainError) as caught:
        interventions.manual_order_deliver(
            supplier_order=order,
            codes=None,
            tracking={"carrier": "DHL", "number": "JD0001", "url": "javascript:alert(1)"},
            actor=Actor.staff(agent),
        )
    assert caught.value.field == "tracking_url"
    redemption.refresh_from_db()
    order.refresh_from_db()
    assert (redemption.status, redemption.delivery_status, order.status) == (
        "submitted",
        "none",
        "submitted",
    )
    assert not Shipment.objects.exists()


DISPATCH = Actor.system("dispatch")


def test_supplier_tracking_is_recorded_once_however_often_it_is_reported():
    redemption = with_supplier()
    order = order_of(redemption)
    tracking = Tracking(carrier="UPS", number="1ZSUP")

    first = shipments.shipment_from_supplier(
        redemption=redemption,
        supplier_order=order,
        tracking=tracking,
        source="acme",
        actor=DISPATCH,
    )
    before = state(redemption)
    again = shipments.shipment_from_supplier(
        redemption=redemption,
        supplier_order=order,
        tracking=tracking,
        source="acme",
        actor=DISPATCH,
    )

    assert again == first
    assert state(redemption) == before
    assert (first.source, first.status, first.supplier_order) == ("supplier", "shipped", order)
    assert redemption.events.get(field="shipment").source == "acme"
    # Unusable tracking is left out rather than holding up the order.
    assert (
        shipments.shipment_from_supplier(
            redemption=redemption,
            supplier_order=order,
            tracking=Tracking(carrier="", number="1ZX"),
            source="acme",
            actor=DISPATCH,
        )
        is None
    )
    assert Shipment.objects.count() == 1


def aggregator_supplier(aggregator: Aggregator):
    return SupplierFactory(
        slug="aggregator",
        adapter="http_json",
        adapter_config=json.dumps(
            {"base_url": aggregator.base_url, "api_key": aggregator.api_key, "timeout_s": 5}
        ),
    )


def test_dispatch_records_the_tracking_a_supplier_delivers_with(aggregator):
    merchant, reward = physical_shop(aggregator_supplier(aggregator), sku="SHIP-PARCEL")
    redemption = redeem(merchant, reward)

    assert dispatch.process_due(now=timezone.now()).delivered == 1

    redemption.refresh_from_db()
    assert (redemption.status, redemption.delivery_status) == ("delivered", "shipped")
    shipment = Shipment.objects.get(redemption=redemption)
    assert (shipment.carrier, shipment.tracking_number) == ("UPS", "1ZAGG-1")
    assert (shipment.source, shipment.status) == ("supplier", "shipped")
    assert shipment.supplier_order == order_of(redemption)
    assert shipment.address == ADDRESS
    events = redemption.events.filter(field__in=["shipment", "delivery"])
    assert {event.source for event in events} == {"aggregator"}


def test_tracking_reported_while_submitted_and_again_on_delivery_is_one_shipment(aggregator):
    merchant, reward = physical_shop(aggregator_supplier(aggregator), sku="SHIP-PARCEL")
    redemption = redeem(merchant, reward)
    key = order_of(redemption).idempotency_key
    submitted = {
        "id": "AGG-1",
        "status": "submitted",
        "codes": [],
        "tracking": {"carrier": "UPS", "number": "1ZAGG-1"},
        "cost": None,
        "error": None,
    }
    # The placement and the first poll say "submitted, on its way"; the next poll
    # answers as the aggregator has it: delivered, with the same tracking.
    aggregator.script.extend([Step(raw=json.dumps(submitted).encode())] * 2)
    now = timezone.now()

    assert dispatch.process_due(now=now).submitted == 1
    redemption.refresh_from_db()
    assert (redemption.status, redemption.delivery_status) == ("submitted", "shipped")
    shipment = Shipment.objects.get()
    before = state(redemption)

    now += dispatch.POLL_INTERVAL
    assert dispatch.process_due(now=now).submitted == 1
    assert state(redemption) == before
    now += dispatch.POLL_INTERVAL
    assert dispatch.process_due(now=now).delivered == 1

    redemption.refresh_from_db()
    assert (redemption.status, redemption.delivery_status) == ("delivered", "shipped")
    assert list(Shipment.objects.all()) == [shipment]
    assert redemption.events.filter(field="shipment").count() == 1
    assert aggregator.placements[key] == 1


# -- admin ----------------------------------------------------------------------------------


def test_add_tracking_from_a_redemption_page(client):
    user = staff_with(*SHIPPER)
    client.force_login(user)
    redemption = with_supplier()
    url = act_url(redemption, "add_tracking")
    assert url in client.get(change_url(redemption)).content.decode()
    assert b'name="tracking_number"' in client.get(url).content

    bad_link = client.post(
        url,
        {
            "apply": "1",
            "carrier": "UPS",
            "tracking_number": "1Z1",
            "tracking_url": "ftp://x.example",
        },
    )
    no_carrier = client.post(url, {"apply": "1", "carrier": "", "tracking_number": "1Z1"})
    assert bad_link.status_code == no_carrier.status_code == 200
    assert b"errorlist" in bad_link.content
    assert b"errorlist" in no_carrier.content
    assert not Shipment.objects.exists()

    done = client.post(
        url,
        {
            "apply": "1",
            "carrier": "UPS",
            "tracking_number": "1Z1",
            "tracking_url": "https://ups.example/track/1Z1",
            "status": "shipped",
            "note": "left the warehouse",
        },
    )

    assert done.status_code == 302
    shipment = Shipment.objects.get()
    assert (shipment.tracking_number, shipment.supplier_order) == ("1Z1", order_of(redemption))
    assert redemption.events.get(field="shipment").actor == user
    page = client.get(change_url(redemption)).content.decode()
    assert 'href="https://ups.example/track/1Z1"' in page
    assert "Springfield" in page  # the address, in the shipments

    again = client.post(
        url, {"apply": "1", "carrier": "UPS", "tracking_number": "1Z1", "status": "shipped"}
    )
    assert b"recorded for this redemption already" in again.content
    assert Shipment.objects.count() == 1


def test_move_a_shipment_from_a_redemption_page(client):
    user = staff_with(*MOVER)
    client.force_login(user)
    redemption = with_supplier()
    shipment = shipped(redemption)
    url = act_url(redemption, "move_shipment")
    assert url in client.get(change_url(redemption)).content.decode()
    before = state(redemption)

    refused = client.post(url, {"apply": "1", "shipment": shipment.pk, "status": "pending"})

    assert refused.status_code == 200
    assert b"cannot become pending" in refused.content
    assert state(redemption) == before

    done = client.post(url, {"apply": "1", "shipment": shipment.pk, "status": "delivered"})

    assert done.status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == "delivered"
    assert Redemption.objects.get(pk=redemption.pk).delivery_status == "received"
    assert redemption.events.get(field="shipment", to_value="delivered").actor == user


def test_a_shipment_of_another_redemption_cannot_be_moved_through_this_one(client):
    client.force_login(staff_with(*MOVER))
    redemption = with_supplier()
    shipped(redemption)
    theirs = shipped(with_supplier("cust-2"), "1Z-THEIRS")
    response = client.post(
        act_url(redemption, "move_shipment"),
        {"apply": "1", "shipment": theirs.pk, "status": "delivered"},
    )
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert Shipment.objects.get(pk=theirs.pk).status == "shipped"


def test_shipment_actions_need_the_shipment_permissions(client):
    redemption = with_supplier()
    shipment = shipped(redemption)
    client.force_login(staff_with(*WORK))  # may work redemptions, not shipments
    page = client.get(change_url(redemption)).content.decode()
    assert act_url(redemption, "add_tracking") not in page
    assert act_url(redemption, "move_shipment") not in page
    before = state(redemption)

    added = client.post(
        act_url(redemption, "add_tracking"),
        {"apply": "1", "carrier": "UPS", "tracking_number": "1Z-NEW"},
    )
    moved = client.post(
        act_url(redemption, "move_shipment"),
        {"apply": "1", "shipment": shipment.pk, "status": "delivered"},
    )
    from_list = client.post(
        reverse("admin:fulfillment_redemption_changelist"),
        {
            "action": "add_tracking",
            "_selected_action": [redemption.pk],
            "apply": "1",
            "carrier": "UPS",
            "tracking_number": "1Z-NEW",
        },
    )

    assert (added.status_code, moved.status_code, from_list.status_code) == (403, 403, 403)
    assert state(redemption) == before


def test_the_fulfillment_group_may_add_and_move_shipments(client):
    staff_groups_sync()
    user = StaffFactory()
    user.groups.add(Group.objects.get(name="Fulfillment"))
    client.force_login(user)
    redemption = with_supplier()

    client.post(
        act_url(redemption, "add_tracking"),
        {"apply": "1", "carrier": "UPS", "tracking_number": "1Z-GRP", "status": "shipped"},
    )
    shipment = Shipment.objects.get()
    client.post(
        act_url(redemption, "move_shipment"),
        {"apply": "1", "shipment": shipment.pk, "status": "in_transit"},
    )

    assert Shipment.objects.get().status == "in_transit"
    assert client.get(SHIPMENTS).status_code == 200
    care = StaffFactory()
    care.groups.add(Group.objects.get(name="Customer care"))
    assert care.has_perm("fulfillment.view_shipment")
    assert not care.has_perm("fulfillment.add_shipment")


def listed(response) -> set[int]:
    assert response.status_code == 200
    return {int(pk) for pk in ROW.findall(response.content.decode())}


def test_the_shipment_list_filters_and_searches(admin_client):
    first = with_supplier()
    second = with_supplier("cust-2")
    ups = shipped(first, "1ZABC")
    dhl = shipments.shipment_add(
        redemption=second, carrier="DHL", tracking_number="JD77", actor=SYSTEM
    )
    shipments.shipment_move(shipment=dhl, to="delivered", actor=SYSTEM)

    def ids_for(**params) -> set[int]:
        return listed(admin_client.get(SHIPMENTS, params))

    assert ids_for() == {ups.pk, dhl.pk}
    assert ids_for(status__exact="delivered") == {dhl.pk}
    assert ids_for(carrier="UPS") == {ups.pk}
    assert ids_for(country="US") == {ups.pk, dhl.pk}
    assert ids_for(country="FR") == set()
    assert ids_for(redemption__merchant__id__exact=second.merchant_id) == {dhl.pk}
    assert ids_for(q="1zabc") == {ups.pk}  # the whole number, any case
    assert ids_for(q="1ZA") == set()
    page = admin_client.get(reverse("admin:fulfillment_shipment_change", args=[dhl.pk]))
    assert page.status_code == 200
    assert "shipped → delivered" in page.content.decode()  # its history
    assert "Springfield" in page.content.decode()


@pytest.mark.parametrize(("who", "queries"), [("superuser", 7), ("staff", 9)])
def test_shipment_list_query_count_does_not_grow_with_rows(
    who, queries, client, admin_user, django_assert_max_num_queries
):
    # Session, user (and a staff user's two permission queries), the country, merchant
    # and carrier filters, the count and the page (merchants are joined, not fetched).
    client.force_login(
        admin_user if who == "superuser" else staff_with("fulfillment.view_shipment")
    )
    merchant, reward = physical_shop(manual())
    for number in range(3):
        member_make(merchant, f"m-{number}", points=POINTS, country="US")
        redemption = redeem(merchant, reward, member=f"m-{number}")
        dispatch.process_due(now=timezone.now())
        shipped(Redemption.objects.get(pk=redemption.pk), f"1Z{number}")
    client.get(SHIPMENTS)
    with django_assert_max_num_queries(queries):
        assert client.get(SHIPMENTS).status_code == 200
    for number in range(3, 20):
        member_make(merchant, f"m-{number}", points=POINTS, country="US")
        redemption = redeem(merchant, reward, member=f"m-{number}")
        dispatch.process_due(now=timezone.now())
        shipped(Redemption.objects.get(pk=redemption.pk), f"1Z{number}")
    with django_assert_max_num_queries(queries):
        response = client.get(SHIPMENTS)
    assert len(listed(response)) == 20


# -- API ------------------------------------------------------------------------------------


URL = "/api/v1/redemptions/"


def test_the_api_shows_the_latest_shipment_and_nothing_to_another_merchant():
    redemption = with_supplier()
    tenant = make_tenant(redemption.merchant)
    detail = f"{URL}{redemption.public_id}/"
    assert tenant.client.get(detail).json()["shipment"] is None
    first = shipped(redemption, "1Z-OLD")
    shipments.shipment_move(shipment=first, to="lost", actor=SYSTEM)
    latest = shipments.shipment_add(
        redemption=redemption,
        carrier="DHL",
        tracking_number="JD-NEW",
        tracking_url="https://dhl.example/JD-NEW",
        actor=SYSTEM,
    )
    shipments.shipment_move(shipment=latest, to="delivered", actor=SYSTEM)

    body = tenant.client.get(detail).json()

    latest.refresh_from_db()
    assert body["shipment"] == {
        "status": "delivered",
        "carrier": "DHL",
        "tracking_number": "JD-NEW",
        "tracking_url": "https://dhl.example/JD-NEW",
        "shipped_at": latest.shipped_at.isoformat().replace("+00:00", "Z"),
        "delivered_at": latest.delivered_at.isoformat().replace("+00:00", "Z"),
        "address": ADDRESS,
    }
    assert body["delivery_status"] == "received"
    listed_body = tenant.client.get(URL, {"member": "cust-1"}).json()
    assert [item["shipment"]["tracking_number"] for item in listed_body["results"]] == ["JD-NEW"]

    other, _ = merchant_with_program()
    stranger = make_tenant(other)
    assert_not_found(stranger.client.get(detail))
    assert_not_found(stranger.client.get(URL, {"member": "cust-1"}))


def test_the_redemption_list_query_count_does_not_grow_with_shipments(
    django_assert_max_num_queries,
):
    merchant, reward = physical_shop(manual())
    tenant = make_tenant(merchant)

    def more(count: int) -> None:
        for _ in range(count):
            redemption = redeem(merchant, reward)
            dispatch.process_due(now=timezone.now())
            shipped(Redemption.objects.get(pk=redemption.pk), f"1Z{redemption.pk}")

    more(2)
    tenant.client.get(URL, {"member": "cust-1"})
    # The key, the member, the page, then its events, codes and shipments (prefetched).
    with django_assert_max_num_queries(6) as few:
        tenant.client.get(URL, {"member": "cust-1"})
    more(8)
    with django_assert_max_num_queries(len(few)):
        response = tenant.client.get(URL, {"member": "cust-1"})
    results = response.json()["results"]
    assert len(results) == 10
    assert all(item["shipment"]["carrier"] == "UPS" for item in results)
