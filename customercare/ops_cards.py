"""The care cards of the ops home (``core.ops_cards``)."""

import datetime

from core.ops_cards import Card, Figure, count
from customercare.models import Ticket
from customercare.queues import csat_since, goodwill_awaiting_approval, sla_at_risk, unassigned

TICKETS = "admin:customercare_ticket_changelist"


def _sla(now: datetime.datetime) -> Figure:
    return count(sla_at_risk(Ticket.objects.all(), now=now).count())


def _unassigned(now: datetime.datetime) -> Figure:
    return count(unassigned(Ticket.objects.all()).count())


def _goodwill(now: datetime.datetime) -> Figure:
    return count(goodwill_awaiting_approval().count())


def _csat(now: datetime.datetime) -> Figure:
    ratings = csat_since(now - datetime.timedelta(days=7))
    if not ratings["ratings"]:
        return Figure(value=None, text="No ratings", note="none in the last 7 days")
    share = round(100 * ratings["satisfied"] / ratings["ratings"])
    return Figure(
        value=share,
        text=f"{share} % satisfied",
        note=f"{ratings['mean']:.1f} of 5 from {ratings['ratings']:,} ratings",
    )


CARDS = [
    Card(
        key="care.sla",
        section="Care",
        title="SLA breached or due within the hour",
        meaning="New and open tickets past their first-response or resolution time, or "
        "reaching it within the hour: answer these first.",
        figure=_sla,
        link=TICKETS,
        query="queue=sla",
        rights_of="customercare.ticket",
        tone="danger",
        badge=True,
    ),
    Card(
        key="care.unassigned",
        section="Care",
        title="Unassigned tickets",
        meaning="Unresolved tickets nobody has taken yet.",
        figure=_unassigned,
        link=TICKETS,
        query="assignee=none&queue=open",
        rights_of="customercare.ticket",
    ),
    Card(
        key="care.goodwill",
        section="Care",
        title="Goodwill awaiting approval",
        meaning="Point adjustments above an agent's limit, waiting for a care lead.",
        figure=_goodwill,
        link="admin:customercare_goodwilladjustment_changelist",
        query="status__exact=pending_approval",
        rights_of="customercare.goodwilladjustment",
        badge=True,
    ),
    Card(
        key="care.csat",
        section="Care",
        title="CSAT, last 7 days",
        meaning="Share of members who rated their resolved ticket 4 or 5 out of 5.",
        figure=_csat,
        link="admin:customercare_ticket_reports",
        rights_of="customercare.ticket",
        tone="info",
    ),
]
