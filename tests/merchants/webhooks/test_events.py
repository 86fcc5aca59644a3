"""Each event type is written by the change it reports, in the change's transaction."""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from core.actors import SYSTEM, Actor
from customercare import services as care
from fulfillment.services import outcomes
from loyalty import events, jobs
from loyalty.models import ExpiryPolicy, Tier
from loyalty.segments import services as segments
from merchants.models import OutboxEvent, WebhookEventType
from tests.customercare.factories import ticket_open
from tests.fulfillment.factories import redemption_delivered, redemption_pending, sandbox_offer
from tests.loyalty.factories import (
    member_make,
    order_post,
    points_give,
    points_take,
    program_merchant,
    refund_post,
    release_due,
)
from tests.loyalty.segments.helpers import segment_make, where

pytestmark = pytest.mark.django_db


def published(merchant, type_: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(merchant=merchant, type=type_).order_by("id"))


def test_member_created_and_updated():
    merchant, _ = program_merchant()
    member_make(merchant, "ann", email="ann@example.com")
    from loyalty.services import members

    members.member_upsert(merchant=merchant, external_id="ann", fields={"first_name": "Ann"})
    members.member_upsert(merchant=merchant, external_id="ann", fields={"first_name": "Ann"})
    (created,) = published(merchant, "member.created")
    (updated,) = published(merchant, "member.updated")  # the same value again: no event
    assert created.subject == "ann"
    assert created.payload["member"]["email"] == "ann@example.com"
    assert updated.payload["changed"] == ["first_name"]
    assert updated.payload["member"]["first_name"] == "Ann"


def test_an_order_creates_its_member_and_earns_with_events():
    merchant, _ = program_merchant(pending_days=14)
    from loyalty.services import orders

    orders.order_record(
        merchant=merchant,
        data=orders.OrderInput(
            external_id="o-1",
            member_external_id="new-1",
            total=Decimal("25.00"),
            currency="USD",
            placed_at=timezone.now(),
            member_fields={"email": "new@example.com"},
        ),
        actor=Actor.system("test"),
    )
    (created,) = published(merchant, "member.created")
    (earned,) = published(merchant, "points.earned")
    assert created.subject == earned.subject == "new-1"
    assert created.pk < earned.pk
    assert earned.payload["points"] == 25
    assert earned.payload["pending"] is True
    assert earned.payload["pending_after"] == 25
    assert earned.payload["source"] == {"type": "order", "ref": "o-1"}
    assert earned.payload["member"]["lifetime_points"] == 25


def test_points_spent_and_expired_and_announced_before_they_expire(settings):
    merchant, _ = program_merchant(
        pending_days=0, expiry_policy=ExpiryPolicy.LOT_AGE, expiry_months=1
    )
    member = member_make(merchant, "ann")
    order_post(merchant, member, "30")
    points_take(member, 10)
    (spent,) = published(merchant, "points.spent")
    assert (spent.payload["points"], spent.payload["balance_after"]) == (10, 20)

    soon = timezone.now() + datetime.timedelta(days=10)
    assert events.announce_expiring_points(now=soon) == 1
    assert events.announce_expiring_points(now=soon) == 0  # once per lot
    (expiring,) = published(merchant, "points.expiring")
    assert expiring.payload["points"] == 20
    assert expiring.dedupe_key.startswith("points.expiring:lot:")

    jobs.expire_points(now=timezone.now() + datetime.timedelta(days=40))
    (expired,) = published(merchant, "points.expired")
    assert (expired.payload["points"], expired.payload["balance_after"]) == (20, 0)


def test_a_tier_change_is_an_event():
    merchant, program = program_merchant(pending_days=0, tiers_enabled=True)
    Tier.objects.create(program=program, name="Silver", threshold=Decimal(5))
    member = member_make(merchant, "ann")
    order_post(merchant, member, "10")
    (changed,) = published(merchant, "tier.changed")
    assert changed.payload["to_tier"]["name"] == "Silver"
    assert changed.payload["from_tier"] is None
    assert changed.payload["direction"] == "up"


def test_segment_moves_are_events():
    merchant, _ = program_merchant()
    member_make(merchant, "ann", country="FR")
    segment = segment_make(merchant, where({"field": "country", "op": "in", "value": ["FR"]}))
    segments.segment_refresh(segment_id=segment.pk, now=timezone.now())
    from loyalty.services import members

    members.member_upsert(merchant=merchant, external_id="ann", fields={"country": "DE"})
    segments.segment_refresh(segment_id=segment.pk, now=timezone.now())
    (joined,) = published(merchant, "segment.joined")
    (left,) = published(merchant, "segment.left")
    assert joined.subject == left.subject == "ann"
    assert joined.payload["segment"]["id"] == segment.pk


def test_redemption_created_delivered_and_refunded():
    merchant, _ = program_merchant(pending_days=0)
    offer = sandbox_offer(merchant)
    member = member_make(merchant, "ann", points=6000)
    delivered = redemption_delivered(merchant, member, offer)
    (created,) = published(merchant, "redemption.created")
    (done,) = published(merchant, "redemption.delivered")
    assert created.payload["redemption"]["id"] == str(delivered.public_id)
    assert done.payload["redemption"]["points"] == delivered.points_total
    assert done.payload["member"]["external_id"] == "ann"
    pending = redemption_pending(merchant, member, offer)
    with transaction.atomic():
        outcomes.redemption_refund(
            redemption=pending, reason="no stock", source="test", at=timezone.now(), actor=SYSTEM
        )
    (refunded,) = published(merchant, "redemption.refunded")
    assert refunded.payload["reason"] == "no stock"
    assert refunded.payload["member"]["points_balance"] == 6000 - delivered.points_total
    (returned,) = published(merchant, "points.returned")
    assert returned.subject == "ann"
    assert (returned.payload["points"], returned.payload["balance_after"]) == (
        pending.points_total,
        6000 - delivered.points_total,
    )
    assert returned.payload["kind"] == "redemption_refund"


def test_a_public_reply_is_an_event_and_an_internal_note_is_not():
    merchant, _ = program_merchant()
    member = member_make(merchant, "ann", email="ann@example.com")
    ticket = ticket_open(member)
    care.ticket_reply(ticket=ticket, body="Note to self.", internal=True, actor=SYSTEM)
    care.ticket_reply(
        ticket=ticket, body="Your points are on the way.", internal=False, actor=SYSTEM
    )
    (replied,) = published(merchant, "ticket.replied")
    assert replied.subject == "ann"
    assert replied.payload["message"]["body"] == "Your points are on the way."


def test_every_event_type_has_a_test_here():
    tested = {
        "member.created",
        "member.updated",
        "points.earned",
        "points.spent",
        "points.expiring",
        "points.expired",
        "points.released",
        "points.reversed",
        "points.returned",
        "tier.changed",
        "segment.joined",
        "segment.left",
        "redemption.created",
        "redemption.delivered",
        "redemption.refunded",
        "ticket.replied",
    }
    assert tested == set(WebhookEventType.values)


def test_a_staff_credit_is_points_earned():
    merchant, _ = program_merchant()
    member = member_make(merchant, "ann")
    points_give(member, 7)
    (earned,) = published(merchant, "points.earned")
    assert (earned.payload["points"], earned.payload["kind"]) == (7, "adjust")


def test_pending_points_released_and_points_taken_back_for_a_refund():
    merchant, _ = program_merchant(pending_days=14)
    member = member_make(merchant, "ann")
    order_post(merchant, member, "40", external_id="o-1")
    refund_post(merchant, "o-1", "10", external_id="r-1")  # while pending
    (first,) = published(merchant, "points.reversed")
    assert (first.payload["points"], first.payload["pending"]) == (10, True)
    assert first.payload["member"]["pending_points"] == 30
    assert first.payload["source"] == {"type": "refund", "ref": "r-1"}

    release_due(member, timezone.now() + datetime.timedelta(days=15))
    (released,) = published(merchant, "points.released")
    assert (released.payload["points"], released.payload["pending"]) == (30, False)
    assert released.payload["member"]["points_balance"] == 30
    assert released.payload["member"]["pending_points"] == 0

    points_take(member, 25)
    refund_post(merchant, "o-1", "30", external_id="r-2")  # 25 of the 30 were spent
    second = published(merchant, "points.reversed")[1]
    assert (second.payload["points"], second.payload["shortfall"]) == (5, 25)
    assert second.payload["balance_after"] == 0
    assert [e.type for e in OutboxEvent.objects.filter(merchant=merchant).order_by("id")][-4:] == [
        "points.reversed",
        "points.released",
        "points.spent",
        "points.reversed",
    ]
