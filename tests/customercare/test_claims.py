"""Structured claims: what the system finds and writes as an internal note when a
ticket names an order (missing points) or a redemption (reward not received)."""

import datetime

import pytest
from django.utils import timezone

from customercare.models import CareSettings, MessageAuthor, MessageKind, TicketCategory
from tests.customercare.factories import care_merchant, member_of, ticket_open
from tests.loyalty.factories import order_post, refund_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return member_of(care_merchant())


def finding(ticket) -> str:
    (note,) = ticket.messages.filter(kind=MessageKind.INTERNAL, author_type=MessageAuthor.SYSTEM)
    return note.body


def claim(member, order_external_id: str):
    return ticket_open(
        member, category=TicketCategory.MISSING_POINTS, order_external_id=order_external_id
    )


def test_unknown_order_is_reported_and_nothing_is_linked(member):
    ticket = claim(member, "NOPE-1")
    assert "no order with this external_id" in finding(ticket)
    assert ticket.order is None
    assert ticket.order_external_id == "NOPE-1"


def test_credited_order_is_linked_and_its_points_reported(member):
    order = order_post(member.merchant, member, "42.00", external_id="W-1").obj
    ticket = claim(member, "W-1")
    note = finding(ticket)
    assert ticket.order == order
    assert f"earned {order.points_earned} points: already credited" in note
    assert "within the 90-day claim window" in note


def test_refunded_order_is_reported_as_refunded(member):
    order_post(member.merchant, member, "40.00", external_id="W-2")
    refund_post(member.merchant, "W-2", "40.00")
    note = finding(claim(member, "W-2"))
    assert "fully refunded ($40.00)" in note


def test_order_outside_the_claim_window(member):
    CareSettings.objects.create(merchant=member.merchant, missing_points_claim_days=30)
    placed = timezone.now() - datetime.timedelta(days=45)
    order_post(member.merchant, member, "10.00", external_id="W-3", placed_at=placed)
    assert "outside the 30-day claim window" in finding(claim(member, "W-3"))


def test_another_members_order_is_flagged_and_not_linked(member):
    other = member_of(member.merchant)
    order_post(member.merchant, other, "10.00", external_id="W-4")
    ticket = claim(member, "W-4")
    assert "recorded for another member" in finding(ticket)
    assert ticket.order is None


def test_another_merchants_order_is_not_found(member):
    elsewhere = member_of(care_merchant())
    order_post(elsewhere.merchant, elsewhere, "10.00", external_id="W-5")
    assert "no order with this external_id" in finding(claim(member, "W-5"))


def test_internal_finding_is_not_the_members_message(member):
    ticket = claim(member, "NOPE-2")
    public = ticket.messages.filter(kind=MessageKind.PUBLIC)
    assert [m.author_type for m in public] == [MessageAuthor.MEMBER]
    assert "no order" not in public.get().body


def test_reward_question_without_redemption_lists_none(member):
    ticket = ticket_open(member, category=TicketCategory.REWARD_NOT_RECEIVED)
    assert finding(ticket) == "The member has no redemptions."
