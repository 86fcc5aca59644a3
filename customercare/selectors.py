"""Reads more than one caller needs: a merchant's care terms, the SLA targets in force
for a priority, and a ticket by its public reference."""

from django.db.models import Q

from customercare import sla
from customercare.exceptions import TicketNotFound
from customercare.models import CareSettings, SLAPolicy, Ticket, TicketPriority
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
