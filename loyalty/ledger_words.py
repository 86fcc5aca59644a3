"""A member's ledger entries in plain words, for the merchant's staff:
"+120 Stars for order 1043", "-500 Stars: Gift card", "+50 Stars goodwill from our
team". Pure: it reads the entry and what the page loaded beside it, and queries nothing."""

from dataclasses import dataclass

from loyalty.models.ledger import LedgerEntry, LedgerEntryKind

MINUS = "\u2212"


@dataclass(frozen=True)
class EntryLine:
    entry: LedgerEntry
    text: str
    # "earn", "spend", "pending" or "none": how the line is marked on the page.
    tone: str


def points_phrase(points: int, points_name: str) -> str:
    sign = "+" if points > 0 else MINUS if points < 0 else ""
    return f"{sign}{abs(points):,} {points_name}"


def entry_line(
    entry: LedgerEntry, *, points_name: str, rewards: dict[str, str] | None = None
) -> EntryLine:
    """``entry`` in words; ``rewards`` maps a redemption's public id to its reward's
    name (the redemptions the page shows)."""
    rewards = rewards or {}
    kind = entry.kind
    moved = entry.points if entry.points else entry.pending
    amount = points_phrase(moved, points_name)
    order = entry.order.external_id if entry.order_id else entry.source_ref
    reward = rewards.get(entry.source_ref, "a reward")
    source = entry.source_type
    if kind == LedgerEntryKind.EARN:
        if source == LedgerEntry.Source.ORDER:
            text = f"{amount} for order {order}"
            if entry.pending and not entry.points:
                text += " (pending until the return window ends)"
        elif source == LedgerEntry.Source.ACTIVITY and entry.activity_id:
            activity = entry.activity
            what = activity.custom_kind or activity.get_kind_display()
            text = f"{amount} for {what.lower()}"
        else:
            text = f"{amount} earned"
    elif kind == LedgerEntryKind.RELEASE:
        text = (
            f"{amount} now spendable from order {order}"
            if order
            else f"{amount} now spendable: the return window ended"
        )
    elif kind == LedgerEntryKind.REDEEM:
        text = f"{amount}: {reward}"
    elif kind == LedgerEntryKind.REDEMPTION_REFUND:
        text = f"{amount} given back: {reward} could not be delivered"
    elif kind == LedgerEntryKind.REVERSE:
        refunded = entry.order.external_id if entry.order_id else ""
        text = f"{amount} taken back for a refund" + (f" of order {refunded}" if refunded else "")
    elif kind == LedgerEntryKind.EXPIRE:
        text = f"{amount} expired"
    elif kind == LedgerEntryKind.ADJUST:
        if source == LedgerEntry.Source.TICKET:
            text = f"{amount} goodwill from our team"
        else:
            text = f"{amount} adjusted by our team"
        if entry.reason:
            text += f" ({entry.reason})"
    else:
        text = f"{amount}"
    if entry.pending and not entry.points:
        tone = "pending"
    elif moved > 0:
        tone = "earn"
    elif moved < 0:
        tone = "spend"
    else:
        tone = "none"
    return EntryLine(entry=entry, text=text, tone=tone)
