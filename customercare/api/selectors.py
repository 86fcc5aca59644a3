"""What the member's routes (the store API and the ticket page) read of a ticket: its
public messages only, never internal notes, and the member's rating of its latest
resolution. Both routes use these, so that neither can show more than the other."""

from django.db.models import Prefetch, QuerySet

from customercare.models import (
    CSATResponse,
    MessageKind,
    Ticket,
    TicketAttachment,
    TicketMessage,
    TicketStatus,
)

# The largest id the attachment table's BigAutoField holds.
MAX_ID = 2**63 - 1


def public_messages_prefetch() -> Prefetch:
    """Loads a ticket's public messages, with their files, as ``public_messages``."""
    return Prefetch(
        "messages",
        queryset=TicketMessage.objects.filter(kind=MessageKind.PUBLIC)
        .prefetch_related("attachments")
        .order_by("created_at", "id"),
        to_attr="public_messages",
    )


def member_tickets(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """``queryset`` with what a member's view of a ticket needs, in a fixed number of
    queries however many tickets there are."""
    return queryset.select_related("member", "redemption", "merged_into").prefetch_related(
        public_messages_prefetch(), "csat"
    )


def public_messages(ticket: Ticket) -> list[TicketMessage]:
    """The ticket's public messages, oldest first."""
    prefetched = getattr(ticket, "public_messages", None)
    if prefetched is not None:
        return prefetched
    return list(
        ticket.messages.filter(kind=MessageKind.PUBLIC)
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


def public_attachment(*, ticket: Ticket, attachment_id: object) -> TicketAttachment | None:
    """A file of one of the ticket's public messages; ``None`` for any other (an internal
    note's, another ticket's, or no such id)."""
    if isinstance(attachment_id, str):
        if not (attachment_id.isascii() and attachment_id.isdigit()) or len(attachment_id) > 19:
            return None
        attachment_id = int(attachment_id)
    if not isinstance(attachment_id, int) or not 1 <= attachment_id <= MAX_ID:
        return None
    return TicketAttachment.objects.filter(
        pk=attachment_id, message__ticket=ticket, message__kind=MessageKind.PUBLIC
    ).first()


def current_csat(ticket: Ticket) -> CSATResponse | None:
    """The rating of the ticket's latest resolution, if the member gave one."""
    if not ticket.resolutions:
        return None
    return next((c for c in ticket.csat.all() if c.resolution == ticket.resolutions), None)


def csat_open(ticket: Ticket) -> bool:
    """Whether the member may rate the ticket's latest resolution now (as
    ``services.csat_record`` would accept)."""
    return (
        ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
        and ticket.resolutions > 0
        and current_csat(ticket) is None
    )
