"""Structured claims: what the system finds when a ticket names an order or a
redemption, written on the ticket as an internal note for the agent."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from core import formatting
from core.exceptions import NotFound
from fulfillment.models import Redemption
from loyalty import selectors as loyalty_selectors
from loyalty.models import LedgerEntry, Member, Order
from merchants.models import Merchant


@dataclass(frozen=True)
class Finding:
    note: str
    order: Order | None = None


def missing_points(
    *,
    merchant: Merchant,
    member: Member,
    order_external_id: str,
    claim_days: int,
    now: datetime.datetime,
) -> Finding:
    """Does the order exist, is it this member's, was it refunded, is it within the claim
    window, and what was credited for it already."""
    lines = [f"Missing-points claim for order {order_external_id}:"]
    try:
        order = loyalty_selectors.order_get(merchant=merchant, external_id=order_external_id)
    except NotFound:
        lines.append(
            "- no order with this external_id was recorded for the merchant. Ask the member "
            "for the order confirmation, or the store to send the order."
        )
        return Finding("\n".join(lines))
    if order.member_id != member.pk:
        lines.append(
            "- the order was recorded for another member of this merchant; check the "
            "member's identity before moving points."
        )
        return Finding("\n".join(lines))
    age = now - order.placed_at
    placed = order.placed_at.date().isoformat()
    if age > datetime.timedelta(days=claim_days):
        lines.append(
            f"- placed {placed}: {age.days} days ago, outside the {claim_days}-day claim window."
        )
    else:
        lines.append(f"- placed {placed}, within the {claim_days}-day claim window.")
    lines.append(f"- total {_money(order.total, order.currency)}.")
    if order.refunded_total:
        full = order.refunded_total >= order.total
        lines.append(
            f"- {'fully' if full else 'partly'} refunded "
            f"({_money(order.refunded_total, order.currency)}); "
            f"{order.points_reversed:,} points were taken back."
        )
    entries = LedgerEntry.objects.filter(member=member, order=order).aggregate(
        points=Sum("points"), pending=Sum("pending")
    )
    credited = (entries["points"] or 0) + (entries["pending"] or 0)
    if order.points_earned:
        state = "already credited"
        if entries["pending"]:
            state += f", {entries['pending']} of them still pending (the return window)"
        lines.append(f"- earned {order.points_earned} points: {state}.")
    else:
        lines.append("- it earned no points under the program's rules at the time.")
    if order.points_earned and credited <= 0 and not order.refunded_total:
        lines.append("- no ledger entry credits it: a goodwill adjustment may be due.")
    return Finding("\n".join(lines), order)


def reward_delivery(*, member: Member, redemption: Redemption | None) -> Finding:
    """The redemption's state, delivery status and history (or the member's latest
    redemptions when the ticket names none)."""
    if redemption is None:
        recent = list(
            Redemption.objects.filter(member=member)
            .select_related("reward")
            .order_by("-created_at")[:5]
        )
        if not recent:
            return Finding("The member has no redemptions.")
        lines = ["No redemption named; the member's latest:"]
        lines += [
            f"- {r.public_id} {r.reward} · {r.get_status_display()} · delivery "
            f"{r.get_delivery_status_display()} · {r.created_at:%Y-%m-%d %H:%M} UTC"
            for r in recent
        ]
        return Finding("\n".join(lines))
    lines = [
        f"Redemption {redemption.public_id}: {redemption.get_status_display()}; delivery "
        f"{redemption.get_delivery_status_display()}.",
    ]
    if redemption.care_reason:
        lines.append(f"Flagged for care: {redemption.care_reason}")
    for event in redemption.events.all().order_by("at", "id"):
        what = "delivery" if event.field != "status" else "status"
        note = f" ({event.note})" if event.note else ""
        lines.append(
            f"- {event.at:%Y-%m-%d %H:%M} UTC {what} {event.from_value or 'none'} → "
            f"{event.to_value} by {event.source}{note}"
        )
    return Finding("\n".join(lines))


def _money(amount: Decimal, currency: str) -> str:
    # The note is the care team's working language, whoever reads the ticket.
    return formatting.money(amount, currency, locale="en")
