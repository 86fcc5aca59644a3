"""Tickets the system opens for redemptions fulfillment flagged for care: a refund after
every supplier failed, or a lost parcel. Fulfillment calls the hook after its commit;
the scheduled sweep opens what a lost hook missed. One ticket per redemption (a partial
unique constraint)."""

from django.db import IntegrityError, transaction

from core.actors import Actor
from customercare.models import Ticket, TicketCategory, TicketChannel, TicketPriority
from customercare.services import SUBJECT_MAX, TicketInput, ticket_open
from fulfillment.models import Redemption


def ticket_open_for_redemption(*, redemption: Redemption) -> Ticket | None:
    """The ticket the system opens for a redemption fulfillment flagged for care (points
    refunded after its suppliers failed it, or a parcel lost): once per redemption
    (``None`` when it already has one)."""
    existing = Ticket.objects.filter(redemption=redemption, channel=TicketChannel.SYSTEM)
    if existing.exists():
        return None
    reason = redemption.care_reason or "fulfillment flagged it"
    if redemption.refund_entry_id is not None:
        subject = f"Reward not delivered, points refunded: {redemption.reward}"
        body = (
            f"Redemption {redemption.public_id} was refunded ({redemption.points_total} "
            f"points) after fulfillment failed: {reason}. Contact the member about another "
            "reward."
        )
    else:
        subject = f"Reward needs attention: {redemption.reward}"
        body = (
            f"Redemption {redemption.public_id} ({redemption.get_status_display()}, delivery "
            f"{redemption.get_delivery_status_display()}) needs care: {reason}."
        )
    data = TicketInput(
        category=TicketCategory.REWARD_NOT_RECEIVED,
        subject=subject[:SUBJECT_MAX],
        body=body,
        redemption=redemption,
        priority=TicketPriority.HIGH,
    )
    try:
        with transaction.atomic():
            return ticket_open(
                merchant=redemption.merchant,
                member=redemption.member,
                data=data,
                channel=TicketChannel.SYSTEM,
                actor=Actor.system("redemption_care"),
            )
    except IntegrityError:
        if existing.exists():
            return None  # another run opened it first
        raise


def redemptions_needing_ticket(*, limit: int = 200) -> list[Redemption]:
    """Redemptions flagged for care that the system has not opened a ticket for."""
    return list(
        Redemption.objects.filter(needs_care=True)
        .exclude(tickets__channel=TicketChannel.SYSTEM)
        .select_related("merchant", "member", "reward")
        .order_by("pk")[:limit]
    )
