"""Canned replies: which ones an agent may insert on a ticket, and filling their
placeholders.

Filling is plain substitution of the known ``{name}`` placeholders, never
``str.format``: a reply's text is written by staff, and a value (a member's name) is
written by a member, so neither may reach attributes, indexes or format specs. Unknown
placeholders, and known ones without a value, are left as written for the agent to
edit; a value is never scanned again for placeholders.
"""

import re
from collections.abc import Mapping

from django.db.models import Q
from django.utils import translation

from customercare.models import CannedReply, Ticket
from merchants.models import Merchant

PLACEHOLDERS = (
    "member_name",
    "points_balance",
    "points_name",
    "reward_name",
    "ticket_reference",
    "merchant_name",
)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def canned_render(body: str, values: Mapping[str, object]) -> str:
    """``body`` with each known placeholder that has a non-empty value replaced."""

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        value = values.get(name)
        if value is None or str(value) == "":
            return match.group(0)
        return str(value)

    return _PLACEHOLDER.sub(fill, body)


def canned_values(*, ticket: Ticket, points_name: str) -> dict[str, str]:
    """The placeholder values of ``ticket`` (its member, merchant and linked reward,
    loaded by the caller)."""
    member = ticket.member
    redemption = ticket.redemption
    return {
        "member_name": member.first_name or member.full_name,
        "points_balance": str(member.points_balance),
        "points_name": points_name,
        "reward_name": redemption.reward.name if redemption is not None else "",
        "ticket_reference": ticket.reference,
        "merchant_name": ticket.merchant.name,
    }


def canned_replies_for(*, merchant: Merchant) -> list[CannedReply]:
    """The active replies offered on ``merchant``'s tickets: its own, then the global
    ones it does not override by title."""
    rows = CannedReply.objects.filter(
        Q(merchant=merchant) | Q(merchant__isnull=True), is_active=True
    ).order_by("title", "merchant_id")
    own = {reply.title for reply in rows if reply.merchant_id is not None}
    return [reply for reply in rows if reply.merchant_id is not None or reply.title not in own]


def canned_text(reply: CannedReply, *, language: str, values: Mapping[str, object]) -> str:
    """The reply in ``language`` (English when it has no text in it), filled."""
    with translation.override(language):
        body = reply.body
    return canned_render(body or "", values)


__all__ = ["PLACEHOLDERS", "canned_render", "canned_replies_for", "canned_text", "canned_values"]
