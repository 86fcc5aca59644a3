"""The care team's queues across merchants, each defined once: the ticket list's filters
show them and the ops home counts them (``customercare.ops_cards``)."""

import datetime

from django.db.models import Avg, Count, Q, QuerySet

from customercare.models import CSATResponse, GoodwillAdjustment, GoodwillStatus, Ticket
from customercare.models.tickets import UNRESOLVED_STATUSES, TicketStatus

# The tickets someone must work now: new and open ones (the others wait on someone else).
QUEUE_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN)
# A ticket due within this long is about to breach its SLA.
ABOUT_TO_BREACH = datetime.timedelta(hours=1)


def sla_at_risk(queryset: QuerySet[Ticket], *, now: datetime.datetime) -> QuerySet[Ticket]:
    """Worked tickets whose next due time (the first response's until there is one, then
    the resolution's) has passed or comes within the hour."""
    soon = now + ABOUT_TO_BREACH
    return queryset.filter(status__in=QUEUE_STATUSES).filter(
        Q(first_responded_at__isnull=True, first_response_due_at__lt=soon)
        | Q(first_responded_at__isnull=False, resolution_due_at__lt=soon)
    )


def unassigned(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    return queryset.filter(status__in=UNRESOLVED_STATUSES, assignee__isnull=True)


def goodwill_awaiting_approval() -> QuerySet[GoodwillAdjustment]:
    return GoodwillAdjustment.objects.filter(status=GoodwillStatus.PENDING_APPROVAL)


def csat_since(since: datetime.datetime) -> dict:
    """The ratings given since then: how many, their mean (1 to 5) and the share of 4s
    and 5s ("satisfied", as CSAT is usually reported)."""
    return CSATResponse.objects.filter(created_at__gte=since).aggregate(
        ratings=Count("pk"), mean=Avg("score"), satisfied=Count("pk", filter=Q(score__gte=4))
    )
