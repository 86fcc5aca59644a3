"""Reissue: a delivered reward is voided and ordered again for the member, at no cost
in points, once; the second purchase is billed like the first."""

import pytest
from django.db import transaction
from django.utils import timezone

from core.actors import SYSTEM, Actor
from core.exceptions import InvalidTransition, ReasonRequired
from fulfillment.adapters.sandbox import sandbox_placed_count, sandbox_reset
from fulfillment.exceptions import OutOfStock
from fulfillment.models import CodeReveal, Redemption, RedemptionStatus, SupplierOrder
from fulfillment.services import dispatch, outcomes
from fulfillment.services.delivery import claim_url
from fulfillment.services.reissue import AlreadyReissued, redemption_reissue
from loyalty.models import LedgerEntry, PointLot
from merchants.models import UsageRecord
from tests.catalog.factories import (
    merchant_with_program,
)
from tests.conftest import make_tenant
from tests.fulfillment.factories import redemption_delivered, sandbox_offer
from tests.loyalty.factories import assert_ledger_consistent, member_make, points_give
from tests.merchants.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_sandbox():
    sandbox_reset()
    yield
    sandbox_reset()


def delivered(stock: int | None = None) -> Redemption:
    merchant, _ = merchant_with_program()
    member = member_make(merchant)
    points_give(member, 10_000)
    return redemption_delivered(merchant, member, sandbox_offer(merchant, stock=stock))


def test_reissue_orders_again_without_costing_the_member_points():
    original = delivered()
    member = original.member
    member.refresh_from_db()
    balance, lifetime = member.points_balance, member.lifetime_points
    lots = sorted(PointLot.objects.filter(member=member).values_list("pk", "remaining"))
    agent = StaffFactory()

    new = redemption_reissue(
        redemption=original, reason="code did not work", actor=Actor.staff(agent)
    )
    dispatch.process_due(now=timezone.now())

    new.refresh_from_db()
    original.refresh_from_db()
    member.refresh_from_db()
    assert new.status == RedemptionStatus.DELIVERED
    assert new.reissue_of == original
    assert original.voided_at is not None
    assert original.status == RedemptionStatus.DELIVERED  # what was bought stays on record
    assert member.points_balance == balance
    assert member.lifetime_points == lifetime  # nothing earned
    # The same lots, with their expiry dates, hold the same points as before.
    assert sorted(PointLot.objects.filter(member=member).values_list("pk", "remaining")) == lots
    assert_ledger_consistent(member)
    event = original.events.get(field="reissue")
    assert (event.to_value, event.actor) == ("voided", agent)
    assert str(new.public_id) in event.note
    assert "code did not work" in event.note
    assert sandbox_placed_count() == 2
    # The second purchase posts its own usage record (face value, cost, fee).
    assert UsageRecord.objects.filter(source_ref=str(new.public_id)).count() == 1


def test_reissue_happens_once_and_refuses_what_is_not_delivered():
    original = delivered()
    redemption_reissue(redemption=original, reason="dead code", actor=SYSTEM)
    orders = SupplierOrder.objects.count()
    entries = LedgerEntry.objects.count()
    with pytest.raises(AlreadyReissued):
        redemption_reissue(redemption=original, reason="again", actor=SYSTEM)
    with pytest.raises(ReasonRequired):
        redemption_reissue(redemption=original, reason="  ", actor=SYSTEM)
    pending = Redemption.objects.get(reissue_of=original)
    with pytest.raises(InvalidTransition):
        redemption_reissue(redemption=pending, reason="not yet delivered", actor=SYSTEM)
    assert SupplierOrder.objects.count() == orders
    assert LedgerEntry.objects.count() == entries


def test_a_reissue_that_fails_for_good_gives_the_member_the_points_back():
    original = delivered()
    member = original.member
    member.refresh_from_db()
    balance = member.points_balance
    new = redemption_reissue(redemption=original, reason="dead code", actor=SYSTEM)
    # The supplier never delivers it: fulfillment refunds it in the end.
    new_locked = Redemption.objects.get(pk=new.pk)
    with transaction.atomic():
        outcomes.redemption_refund(
            redemption=new_locked,
            reason="no stock",
            source="sandbox",
            at=timezone.now(),
            actor=Actor.system("dispatch"),
        )
    member.refresh_from_db()
    assert member.points_balance == balance + original.points_total
    assert_ledger_consistent(member)


def test_reissue_with_no_stock_left_changes_nothing():
    original = delivered(stock=1)
    entries = LedgerEntry.objects.count()
    with pytest.raises(OutOfStock):
        redemption_reissue(redemption=original, reason="dead code", actor=SYSTEM)
    assert LedgerEntry.objects.count() == entries
    assert Redemption.objects.get(pk=original.pk).voided_at is None


def test_the_voided_rewards_claim_link_no_longer_shows_its_code(client):
    original = delivered()
    redemption_reissue(redemption=original, reason="dead code", actor=SYSTEM)
    url = claim_url(original, "https://example.test").removeprefix("https://example.test")
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 200
        assert b"replaced by a new one" in response.content
    code = original.codes.get().code
    assert code.encode() not in client.post(url).content
    assert not CodeReveal.objects.filter(code__redemption=original).exists()


def test_the_api_links_the_voided_redemption_and_its_replacement(tenant_pair):
    original = delivered()
    new = redemption_reissue(redemption=original, reason="dead code", actor=SYSTEM)
    store = make_tenant(original.merchant)
    old_body = store.client.get(f"/api/v1/redemptions/{original.public_id}/").json()
    new_body = store.client.get(f"/api/v1/redemptions/{new.public_id}/").json()
    assert old_body["voided_at"] is not None
    assert old_body["reissued_as"] == str(new.public_id)
    assert old_body["claim"] is None  # its codes no longer count
    assert new_body["reissue_of"] == str(original.public_id)
    assert new_body["reissued_as"] is None
    other = tenant_pair.b.client.get(f"/api/v1/redemptions/{new.public_id}/")
    assert other.status_code == 404
