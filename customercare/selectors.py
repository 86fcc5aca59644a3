"""Reads more than one caller needs: a merchant's care terms, the SLA targets in force
for a priority, a ticket by its public reference, and what the member's routes (the store
API and the ticket page) read of a ticket: its public messages only, never internal
notes, and the member's rating of its latest resolution. Both routes use these, so that
neither can show more than the other."""

from django.db.models import Prefetch, Q, QuerySet

from customercare import sla
from customercare.exceptions import TicketNotFound
from customercare.models import (
    CareSettings,
    CSATResponse,
    MessageAuthor,
    MessageKind,
    SLAPolicy,
    Ticket,
    TicketAttachment,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from loyalty.models import Member
from merchants.models import Merchant

# Used when neither the merchant nor the provider has a policy for a priority: calendar
# minutes (first response, resolution).
FALLBACK_TARGETS = {
    TicketPriority.LOW: (24 * 60, 5 * 24 * 60),
    TicketPriority.NORMAL: (8 * 60, 3 * 24 * 60),
    TicketPriority.HIGH: (2 * 60, 24 * 60),
    TicketPriority.URGENT: (30, 8 * 60),
}


def care_settings_for(*, merchant: Merchant) -> CareSettings:
    """The merchant's care terms (the defaults when it has none saved)."""
    found = CareSettings.objects.filter(merchant=merchant).first()
    return found or CareSettings(merchant=merchant)


def sla_targets(*, merchant: Merchant, priority: str) -> sla.Targets:
    """The merchant's policy for ``priority``, else the provider's default, else the
    built-in fallback."""
    policies = _policies(merchant, priority)
    policy = policies.get(merchant.pk) or policies.get(None)
    if policy is None:
        first, resolution = FALLBACK_TARGETS[TicketPriority(priority)]
        return sla.Targets(first, resolution, 75, None)
    calendar = None
    if policy.calendar is not None:
        cal = policy.calendar
        calendar = sla.Calendar(
            timezone=cal.timezone,
            weekdays=frozenset(int(day) for day in cal.weekdays),
            opens_at=cal.opens_at,
            closes_at=cal.closes_at,
            holidays=frozenset(cal.holidays.values_list("date", flat=True)),
        )
    return sla.Targets(
        policy.first_response_minutes, policy.resolution_minutes, policy.at_risk_percent, calendar
    )


def _policies(merchant: Merchant, priority: str) -> dict[int | None, SLAPolicy]:
    rows = (
        SLAPolicy.objects.filter(priority=priority)
        .filter(Q(merchant=merchant) | Q(merchant__isnull=True))
        .select_related("calendar")
    )
    return {policy.merchant_id: policy for policy in rows}


def ticket_get(*, merchant: Merchant, reference: str) -> Ticket:
    """The merchant's ticket by its public reference; ``TicketNotFound`` otherwise."""
    if not isinstance(reference, str) or len(reference) > 16 or "\x00" in reference:
        raise TicketNotFound()
    ticket = (
        Ticket.objects.select_related("member", "merged_into")
        .filter(merchant=merchant, reference=reference.upper())
        .first()
    )
    if ticket is None:
        raise TicketNotFound()
    return ticket


# -- what the member's routes read -------------------------------------------------------

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


def member_thread(ticket: Ticket) -> list[dict]:
    """The ticket's public messages as the member's pages show them, oldest first: who
    wrote (``from_member``, ``author_type``), the text, when, and the files."""
    return [
        {
            "from_member": message.author_type == MessageAuthor.MEMBER,
            "author_type": message.author_type,
            "body": message.body,
            "created_at": message.created_at,
            "attachments": list(message.attachments.all()),
        }
        for message in public_messages(ticket)
    ]


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


def ticket_may_be_rated(*, ticket: Ticket) -> bool:
    """Whether the ticket has a resolution the member may rate: the rule
    ``services.csat_record`` refuses by (one rating per resolution is checked apart)."""
    return ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED) and ticket.resolutions > 0


def csat_open(ticket: Ticket) -> bool:
    """Whether the member may rate the ticket's latest resolution now (as
    ``services.csat_record`` would accept)."""
    return ticket_may_be_rated(ticket=ticket) and current_csat(ticket) is None


def member_ticket_list(*, merchant: Merchant, member: Member) -> QuerySet[Ticket]:
    """The member's tickets, newest first, with what the member's view of each needs."""
    return member_tickets(Ticket.objects.filter(merchant=merchant, member=member)).order_by(
        "-created_at", "-id"
    )
