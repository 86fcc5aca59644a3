"""The fulfillment cards of the ops home (``core.ops_cards``): the redemption queues and
late parcels, each counted by the same definition its list filters with."""

import datetime

from core.ops_cards import Card, Figure, count
from fulfillment.models import Redemption, Shipment
from fulfillment.queues import late_shipments, redemption_queue


def _queue(name: str):
    def figure(now: datetime.datetime) -> Figure:
        return count(redemption_queue(Redemption.objects.all(), name, now=now).count())

    return figure


def _late_shipments(now: datetime.datetime) -> Figure:
    return count(late_shipments(Shipment.objects.all(), now=now).count())


REDEMPTIONS = "admin:fulfillment_redemption_changelist"

CARDS = [
    Card(
        key="fulfillment.stuck",
        section="Fulfillment",
        title="Stuck redemptions",
        meaning="Open redemptions that have not moved for over an hour: look at the "
        "supplier's answer and retry, reissue or refund.",
        figure=_queue("stuck"),
        link=REDEMPTIONS,
        query="queue=stuck",
        rights_of="fulfillment.redemption",
        tone="danger",
        badge=True,
    ),
    Card(
        key="fulfillment.failing",
        section="Fulfillment",
        title="Failed, awaiting a decision",
        meaning="Redemptions whose delivery failed: retry with another supplier, or refund "
        "the points.",
        figure=_queue("failing"),
        link=REDEMPTIONS,
        query="queue=failing",
        rights_of="fulfillment.redemption",
    ),
    Card(
        key="fulfillment.manual",
        section="Fulfillment",
        title="Need a person",
        meaning="Redemptions marked for care, or waiting at a supplier that is served by hand.",
        figure=_queue("manual"),
        link=REDEMPTIONS,
        query="queue=manual",
        rights_of="fulfillment.redemption",
    ),
    Card(
        key="fulfillment.late_shipments",
        section="Fulfillment",
        title="Late parcels",
        meaning="Parcels not handed to a carrier within 3 days, or not delivered 10 days "
        "after their last scan: ask the warehouse or the carrier.",
        figure=_late_shipments,
        link="admin:fulfillment_shipment_changelist",
        query="late=yes",
        rights_of="fulfillment.shipment",
        badge=True,
    ),
]
