"""Everything the system holds on one member, as one JSON document: for a data request
(a platform's privacy request, the member's own download). Reads only.

Delivered codes stay out: they are secrets, claimed through their own page; the export
says a code was delivered, not what it is. Internal notes of care agents stay out too:
they are the provider's working notes, not the member's data.
"""

import json
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from customercare.models import MessageKind, Ticket
from fulfillment.models import Redemption
from loyalty.models import LedgerEntry, Member, Order


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount.normalize():f}"


def member_data_export(*, member: Member) -> dict[str, Any]:
    orders = Order.objects.filter(member=member).prefetch_related("lines", "refunds")
    return {
        "exported_at": timezone.now(),
        "merchant": member.merchant.name,
        "profile": {
            "external_id": member.external_id,
            "email": member.email,
            "phone": member.phone,
            "first_name": member.first_name,
            "last_name": member.last_name,
            "country": str(member.country or ""),
            "locale": member.locale,
            "birthday": member.birthday,
            "marketing_consent": member.marketing_consent,
            "attributes": member.attributes,
            "status": member.status,
            "joined_at": member.created_at,
        },
        "points": {
            "balance": member.points_balance,
            "pending": member.pending_points,
            "lifetime": member.lifetime_points,
            "tier": member.tier.name if member.tier_id else None,
        },
        "ledger": [
            {
                "at": entry.created_at,
                "kind": entry.kind,
                "points": entry.points,
                "reason": entry.reason,
            }
            for entry in LedgerEntry.objects.filter(member=member).order_by("id")
        ],
        "orders": [
            {
                "external_id": order.external_id,
                "placed_at": order.placed_at,
                "total": _money(order.total),
                "currency": order.currency,
                "points_earned": order.points_earned,
                "lines": [
                    {
                        "sku": line.sku,
                        "quantity": line.quantity,
                        "unit_price": _money(line.unit_price),
                    }
                    for line in order.lines.all()
                ],
                "refunds": [
                    {"external_id": refund.external_id, "amount": _money(refund.amount)}
                    for refund in order.refunds.all()
                ],
            }
            for order in orders
        ],
        "redemptions": [
            {
                "id": str(redemption.public_id),
                "reward": redemption.reward.name,
                "points": redemption.points_total,
                "status": redemption.status,
                "created_at": redemption.created_at,
                "recipient": redemption.recipient,
            }
            for redemption in Redemption.objects.filter(member=member)
            .select_related("reward")
            .order_by("id")
        ],
        "tickets": [
            {
                "reference": ticket.reference,
                "subject": ticket.subject,
                "status": ticket.status,
                "opened_at": ticket.created_at,
                "messages": [
                    {"at": message.created_at, "from": message.author_type, "body": message.body}
                    for message in ticket.messages.all()
                    if message.kind == MessageKind.PUBLIC
                ],
            }
            for ticket in Ticket.objects.filter(member=member)
            .prefetch_related("messages")
            .order_by("id")
        ],
    }


def member_data_json(*, member: Member) -> bytes:
    return json.dumps(
        member_data_export(member=member), cls=DjangoJSONEncoder, indent=2, ensure_ascii=False
    ).encode()
