"""POST /api/v1/redemptions/ and its reads: points taken once, what was bought recorded,
a supplier order written, and bad input changing nothing."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from catalog.models import CodePool, SupplierOffer
from core.actors import SYSTEM
from fulfillment.models import Redemption, SupplierOrder
from loyalty.models import LedgerEntry, Member, Tier
from tests.catalog.factories import (
    OfferFactory,
    RewardFactory,
    SupplierFactory,
    merchant_with_program,
    offered,
    select,
)
from tests.conftest import assert_not_found, assert_problem, make_tenant
from tests.loyalty.apihelpers import post_json
from tests.loyalty.factories import assert_ledger_consistent, member_make

URL = "/api/v1/redemptions/"
ADDRESS = {
    "name": "Ana Lima",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


@pytest.fixture
def shop(db):
    merchant, program = merchant_with_program()
    return make_tenant(merchant), program


def card(merchant, **fields):
    reward = offered(RewardFactory(**{"denominations": ["10", "25"], **fields}))
    select(merchant, reward, price_step=1)
    return reward


def body(reward_, **fields):
    return {
        "member": "cust-1",
        "reward": reward_.pk,
        "denomination": "25",
        "recipient": {"email": "ana@example.com"},
        **fields,
    }


def state():
    return (
        list(Member.objects.order_by("pk").values("pk", "points_balance")),
        Redemption.objects.count(),
        SupplierOrder.objects.count(),
        LedgerEntry.objects.count(),
        list(SupplierOffer.objects.order_by("pk").values_list("stock", flat=True)),
    )


def test_a_redemption_takes_the_points_records_what_was_bought_and_queues_an_order(shop):
    tenant, program = shop
    member_make(tenant.merchant, "cust-1", points=5000, country="US")
    reward = card(tenant.merchant)

    response = post_json(tenant.client, URL, body(reward, quantity=2, external_id="r-1"))

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "pending"
    assert (data["points_each"], data["points_spent"], data["quantity"]) == (2500, 5000, 2)
    assert (data["face_value"], data["face_currency"]) == ("25.00", "USD")
    assert data["reward"]["id"] == reward.pk
    assert [event["to_value"] for event in data["events"]] == ["pending"]
    redemption = Redemption.objects.get(public_id=data["id"])
    assert redemption.spend_entry.points == -5000
    assert redemption.spend_entry.kind == "redeem"
    assert redemption.point_value == program.point_value
    assert redemption.recipient == {"email": "ana@example.com"}
    (order,) = redemption.supplier_orders.all()
    assert (order.status, order.attempt) == ("queued", 1)
    assert order.idempotency_key == f"rdm-{redemption.public_id.hex}-1"
    assert assert_ledger_consistent(redemption.member).points_balance == 0

    assert tenant.client.get(f"{URL}{data['id']}/").json() == data
    listed = tenant.client.get(URL, {"member": "cust-1"}).json()
    assert [item["id"] for item in listed["results"]] == [data["id"]]


def test_the_same_external_id_replays_and_takes_nothing_more(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", points=5000, country="US")
    reward = card(tenant.merchant)
    first = post_json(tenant.client, URL, body(reward, external_id="r-1"))
    again = post_json(tenant.client, URL, body(reward, external_id="r-1"))
    other = post_json(tenant.client, URL, body(reward, external_id="r-1", denomination="10"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert_problem(other, 409, "idempotency_conflict")
    assert Redemption.objects.count() == 1
    assert Member.objects.get().points_balance == 2500


def test_short_of_points_is_a_409_and_nothing_changes(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", points=2000, country="US")
    reward = card(tenant.merchant)
    before = state()
    assert_problem(post_json(tenant.client, URL, body(reward)), 409, "insufficient_points")
    assert state() == before


def test_stock_is_taken_and_the_last_unit_goes_to_one_redemption(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", points=5000, country="US")
    reward = RewardFactory(
        type="physical", denominations=["10"], recipient_fields=["postal_address"]
    )
    offer = OfferFactory(reward=reward, stock=1)
    select(tenant.merchant, reward, price_step=1)
    ok = post_json(
        tenant.client,
        URL,
        body(reward, denomination="10", recipient={"postal_address": ADDRESS}),
    )
    assert ok.status_code == 201, ok.content
    offer.refresh_from_db()
    assert offer.stock == 0
    assert SupplierOrder.objects.get().stock_reserved == 1
    # Sold out now: out of stock (409), not an unknown reward (404).
    again = post_json(
        tenant.client, URL, body(reward, denomination="10", recipient={"postal_address": ADDRESS})
    )
    assert_problem(again, 409, "out_of_stock", "quantity")


def test_a_code_pool_must_hold_enough_codes(shop):
    from catalog.pools import codes_upload

    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", points=5000, country="US")
    reward = RewardFactory(type="voucher", denominations=["10"])
    offer = OfferFactory(reward=reward, supplier=SupplierFactory(kind="warehouse"))
    pool = CodePool.objects.create(offer=offer, face_value=Decimal(10))
    codes_upload(pool=pool, csv_text="code\nAAA-1\nAAA-2\n", actor=SYSTEM)
    select(tenant.merchant, reward, price_step=1)
    before = state()
    too_many = post_json(tenant.client, URL, body(reward, denomination="10", quantity=3))
    assert_problem(too_many, 409, "out_of_stock", "quantity")
    assert state() == before
    assert (
        post_json(tenant.client, URL, body(reward, denomination="10", quantity=2)).status_code
        == 201
    )


def test_limits_per_member(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", points=100000, country="US")
    reward = card(tenant.merchant)
    item = reward.catalog_items.get()
    item.limit_per_month = 2
    item.limit_ever = 3
    item.save()
    assert post_json(tenant.client, URL, body(reward, quantity=2)).status_code == 201
    assert_problem(post_json(tenant.client, URL, body(reward)), 409, "redemption_limit_reached")


def test_tier_and_country_decide_as_in_the_catalog(shop):
    tenant, program = shop
    member_make(tenant.merchant, "cust-1", points=5000, country="US")
    member_make(tenant.merchant, "cust-fr", points=5000, country="FR")
    reward = card(tenant.merchant)
    gold = Tier.objects.create(program=program, name="Gold", threshold=Decimal(100))
    program.tiers_enabled = True
    program.save()
    item = reward.catalog_items.get()
    item.allowed_tiers.add(gold)
    assert_not_found(post_json(tenant.client, URL, body(reward)))
    Member.objects.filter(external_id="cust-1").update(tier=gold)
    assert post_json(tenant.client, URL, body(reward)).status_code == 201
    assert_not_found(post_json(tenant.client, URL, body(reward, member="cust-fr")))


@pytest.mark.parametrize(
    ("changes", "status", "code", "attr"),
    [
        ({"reward": 999999}, 404, "not_found", "reward"),
        ({"reward": "abc"}, 400, "invalid_input", "reward"),
        ({"reward": 2**70}, 400, "invalid_input", "reward"),
        ({"member": "nobody"}, 404, "not_found", "member"),
        ({"denomination": "30"}, 400, "invalid_denomination", "denomination"),
        ({"denomination": "25.001"}, 400, "invalid_denomination", "denomination"),
        ({"denomination": "-25"}, 400, "invalid_input", "denomination"),
        ({"denomination": "NaN"}, 400, "invalid_input", "denomination"),
        ({"quantity": 0}, 400, "invalid_input", "quantity"),
        ({"quantity": -1}, 400, "invalid_input", "quantity"),
        ({"quantity": 11}, 400, "invalid_input", "quantity"),
        ({"recipient": {}}, 400, "invalid_recipient", "recipient.email"),
        ({"recipient": {"email": "not-an-email"}}, 400, "invalid_recipient", "recipient.email"),
        ({"recipient": "ana@example.com"}, 400, "invalid_input", "recipient"),
        ({"external_id": "bad id with spaces"}, 400, "invalid_input", "external_id"),
    ],
)
def test_bad_input_is_a_4xx_and_takes_nothing(shop, changes, status, code, attr):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", points=5000, country="US")
    reward = card(tenant.merchant)
    before = state()
    response = post_json(tenant.client, URL, body(reward, **changes))
    assert_problem(response, status, code, attr)
    assert state() == before


@pytest.mark.parametrize(
    ("address", "attr"),
    [
        (None, "recipient.postal_address"),
        ({**ADDRESS, "postal_code": "ABCDE"}, "recipient.postal_address.postal_code"),
        ({**ADDRESS, "postal_code": ""}, "recipient.postal_address.postal_code"),
        ({**ADDRESS, "line1": ""}, "recipient.postal_address.line1"),
        ({**ADDRESS, "country": "FR"}, "recipient.postal_address.country"),
        ({**ADDRESS, "city": "x" * 200}, "recipient.postal_address.city"),
    ],
)
def test_a_shipped_reward_needs_a_valid_address_in_the_members_country(shop, address, attr):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", points=5000, country="US")
    reward = card(tenant.merchant, type="physical", recipient_fields=["postal_address"])
    recipient = {} if address is None else {"postal_address": address}
    before = state()
    response = post_json(tenant.client, URL, body(reward, recipient=recipient))
    assert_problem(response, 400, "invalid_recipient", attr)
    assert state() == before


def test_another_merchants_redemptions_and_members_are_invisible(shop):
    tenant, _ = shop
    other, _ = merchant_with_program()
    theirs = make_tenant(other)
    member_make(other, "their-customer", points=5000, country="US")
    reward = card(other)
    response = post_json(theirs.client, URL, body(reward, member="their-customer"))
    assert response.status_code == 201
    their_id = response.json()["id"]
    member_make(tenant.merchant, "cust-1", points=5000, country="US")
    assert_not_found(tenant.client.get(f"{URL}{their_id}/"))
    assert_not_found(tenant.client.get(URL, {"member": "their-customer"}))
    assert_not_found(post_json(tenant.client, URL, body(reward, member="their-customer")))
    assert_not_found(post_json(tenant.client, URL, body(reward)))  # not in this catalog
    assert_not_found(tenant.client.get(f"{URL}not-a-uuid/"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_of_the_last_points_one_wins():
    merchant, _ = merchant_with_program()
    tenant = make_tenant(merchant)
    member_make(merchant, "cust-1", points=2500, country="US")
    reward = card(merchant)
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def redeem(number: int) -> None:
        try:
            barrier.wait()
            response = post_json(tenant.client, URL, body(reward, external_id=f"race-{number}"))
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=redeem, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    assert Redemption.objects.count() == 1
    assert assert_ledger_consistent(Member.objects.get()).points_balance == 0
    # The winner's first supplier order went out when it committed (tasks run eagerly).
    assert Redemption.objects.get().status == "delivered"
    assert connection.vendor == "postgresql"


def test_every_missing_address_field_is_named(shop):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", points=5000, country="US")
    reward = card(tenant.merchant, type="physical", recipient_fields=["postal_address", "phone"])
    response = post_json(
        tenant.client, URL, body(reward, recipient={"postal_address": {"country": "US"}})
    )
    problem = assert_problem(response, 400, "invalid_recipient")
    assert {error["attr"] for error in problem["errors"]} == {
        "recipient.phone",
        "recipient.postal_address.name",
        "recipient.postal_address.line1",
        "recipient.postal_address.city",
        "recipient.postal_address.postal_code",
    }


def test_once_delivered_the_claim_link_is_given_and_codes_only_to_keys_with_the_codes_scope(
    shop, settings
):
    from django.utils import timezone

    from fulfillment.models import CodeReveal
    from fulfillment.services import dispatch
    from merchants.models import Scope

    settings.PUBLIC_BASE_URL = "https://loyalty.example.com"
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", points=5000, country="US")
    reward = card(tenant.merchant)
    created = post_json(tenant.client, URL, body(reward)).json()
    assert created["claim"] is None  # not delivered yet
    dispatch.process_due(now=timezone.now())

    plain = tenant.client.get(f"{URL}{created['id']}/").json()
    assert plain["status"] == "delivered"
    assert plain["claim"]["url"].startswith("https://loyalty.example.com/claim/")
    assert plain["claim"]["codes"] is None
    assert not CodeReveal.objects.exists()

    trusted = make_tenant(tenant.merchant, scopes=(Scope.READ, Scope.CODES))
    data = trusted.client.get(f"{URL}{created['id']}/").json()
    (code,) = data["claim"]["codes"]
    assert code["code"].startswith("SBX-")
    (reveal,) = CodeReveal.objects.all()
    assert (reveal.via, reveal.api_key_prefix) == ("api", trusted.api_key.prefix)


@pytest.mark.parametrize(
    ("phone", "says"),
    [
        ("+44 20 7946 0958", "The reward is delivered in US only"),
        ("555 123 4567", "Not a valid phone number of US"),
    ],
)
def test_a_phone_of_another_country_or_no_country_is_refused_and_takes_nothing(shop, phone, says):
    tenant, _ = shop
    member_make(tenant.merchant, "cust-1", points=5000, country="US")
    reward = card(tenant.merchant, recipient_fields=["email", "phone"])
    before = state()

    response = post_json(
        tenant.client, URL, body(reward, recipient={"email": "ana@example.com", "phone": phone})
    )

    problem = assert_problem(response, 400, "invalid_recipient", "recipient.phone")
    (error,) = [error for error in problem["errors"] if error["attr"] == "recipient.phone"]
    assert error["detail"].startswith(says)
    assert state() == before
    ok = post_json(
        tenant.client,
        URL,
        body(reward, recipient={"email": "ana@example.com", "phone": "(415) 555-0100"}),
    )
    assert ok.status_code == 201, ok.content
    assert Redemption.objects.get().recipient == {
        "email": "ana@example.com",
        "phone": "+14155550100",
    }
