"""A redemption fulfillment could not deliver is refunded and flagged for care; customer
care opens one ticket for it, by the hook fulfillment calls after its commit or, if that
was lost, by the scheduled sweep."""

import contextlib
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from customercare import tasks
from customercare.models import MessageKind, Ticket, TicketCategory, TicketChannel
from fulfillment.models import Redemption
from fulfillment.services import outcomes, redemptions
from tests.customercare.factories import care_merchant, member_of
from tests.fulfillment.factories import sandbox_offer

pytestmark = pytest.mark.django_db


def refunded_redemption(commit_hooks=None) -> Redemption:
    merchant = care_merchant()
    offer = sandbox_offer(merchant)
    member = member_of(merchant, 10_000)
    redemption = redemptions.redemption_create(
        merchant=merchant,
        data=redemptions.RedemptionInput(
            member_external_id=member.external_id,
            reward_id=offer.reward_id,
            value=Decimal("25"),
            recipient={"email": "ana@example.com"},
        ),
        actor=Actor.system("test"),
    ).obj
    with commit_hooks or contextlib.nullcontext(), transaction.atomic():
        locked = Redemption.objects.select_for_update().get(pk=redemption.pk)
        outcomes.redemption_refund(
            redemption=locked,
            reason="supplier out of cards",
            source="sandbox",
            at=timezone.now(),
            actor=Actor.system("dispatch"),
        )
    redemption.refresh_from_db()
    assert redemption.needs_care
    return redemption


def test_the_sweep_opens_one_high_priority_ticket_per_refunded_redemption():
    redemption = refunded_redemption()
    assert not Ticket.objects.filter(redemption=redemption).exists()  # the hook was lost
    assert "1 ticket(s) opened" in tasks.sweep()
    ticket = Ticket.objects.get(redemption=redemption)
    assert ticket.channel == TicketChannel.SYSTEM
    assert ticket.category == TicketCategory.REWARD_NOT_RECEIVED
    assert ticket.priority == "high"
    assert ticket.member == redemption.member
    internal = ticket.messages.filter(kind=MessageKind.INTERNAL)
    assert any("supplier out of cards" in m.body for m in internal)
    assert not ticket.messages.filter(kind=MessageKind.PUBLIC).exists()
    assert "0 ticket(s) opened" in tasks.sweep()
    assert Ticket.objects.filter(redemption=redemption).count() == 1


def test_the_hook_opens_it_after_the_refund_commits(django_capture_on_commit_callbacks):
    redemption = refunded_redemption(django_capture_on_commit_callbacks(execute=True))
    tickets = Ticket.objects.filter(redemption=redemption, channel=TicketChannel.SYSTEM)
    assert tickets.count() == 1
    tasks.open_ticket_for_redemption(redemption.pk)  # a second delivery of the task
    assert tickets.count() == 1


def test_a_redemption_flagged_without_a_refund_gets_a_ticket_that_says_so():
    """A lost parcel flags the redemption for care while it is not refunded: the ticket
    must not tell the store the points came back."""
    redemption = refunded_redemption()
    pending = redemptions.redemption_create(
        merchant=redemption.merchant,
        data=redemptions.RedemptionInput(
            member_external_id=redemption.member.external_id,
            reward_id=redemption.reward_id,
            value=Decimal("25"),
            recipient={"email": "ana@example.com"},
        ),
        actor=Actor.system("test"),
    ).obj
    # What fulfillment does when a shipment is lost.
    Redemption.objects.filter(pk=pending.pk).update(
        needs_care=True, care_reason="parcel lost by the carrier"
    )
    tasks.sweep()
    ticket = Ticket.objects.get(redemption=pending)
    assert "refunded" not in ticket.subject
    assert ticket.subject.startswith("Reward needs attention")
    bodies = " ".join(ticket.messages.values_list("body", flat=True))
    assert "parcel lost by the carrier" in bodies
    assert "was refunded" not in bodies
