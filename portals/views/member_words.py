"""The ledger and the earning rules in the member's words and language: "+120 Stars for
order 1043", "-500 Stars: a reward", "+50 Stars from our team". Numbers go through Babel
in the active language. Pure: reads the objects given, queries nothing."""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.models import ActivityKind, EarningRule, LedgerEntry, RuleKind
from loyalty.models.ledger import LedgerEntryKind
from portals import formatting

MINUS = "\u2212"
ACTIVITY_WORDS = {
    ActivityKind.SIGN_UP: gettext_lazy("joining"),
    ActivityKind.BIRTHDAY: gettext_lazy("your birthday"),
    ActivityKind.REVIEW: gettext_lazy("a review"),
    ActivityKind.SOCIAL_FOLLOW: gettext_lazy("following us"),
    ActivityKind.REFERRAL: gettext_lazy("a referral"),
}


@dataclass(frozen=True)
class Line:
    entry: LedgerEntry
    amount: str
    text: str
    tone: str  # "earn", "spend", "pending" or "none"


def points_amount(points: int, points_name: str) -> str:
    sign = "+" if points > 0 else MINUS if points < 0 else ""
    return f"{sign}{formatting.points(abs(points))} {points_name}"


def entry_words(entry: LedgerEntry, *, points_name: str) -> Line:
    kind, source = entry.kind, entry.source_type
    moved = entry.points if entry.points else entry.pending
    order = entry.order.external_id if entry.order_id else entry.source_ref
    if kind == LedgerEntryKind.EARN and source == LedgerEntry.Source.ORDER:
        text = _("For order %(order)s") % {"order": order}
        if entry.pending and not entry.points:
            text = _("For order %(order)s, pending until the return window ends") % {"order": order}
    elif kind == LedgerEntryKind.EARN and entry.activity_id:
        what = ACTIVITY_WORDS.get(entry.activity.kind) or entry.activity.custom_kind
        text = _("For %(what)s") % {"what": what} if what else _("Earned")
    elif kind == LedgerEntryKind.EARN:
        text = _("Earned")
    elif kind == LedgerEntryKind.RELEASE:
        text = _("Now spendable, from order %(order)s") % {"order": order}
    elif kind == LedgerEntryKind.REDEEM:
        text = _("Spent on a reward")
    elif kind == LedgerEntryKind.REDEMPTION_REFUND:
        text = _("Given back: a reward could not be delivered")
    elif kind == LedgerEntryKind.REVERSE:
        text = _("Taken back for a refund of order %(order)s") % {"order": order}
    elif kind == LedgerEntryKind.EXPIRE:
        text = _("Expired")
    elif kind == LedgerEntryKind.ADJUST and source == LedgerEntry.Source.TICKET:
        text = _("Goodwill from our team")
    elif kind == LedgerEntryKind.ADJUST:
        text = _("From our team") if moved >= 0 else _("Corrected by our team")
    else:
        text = ""
    if entry.pending and not entry.points:
        tone = "pending"
    else:
        tone = "earn" if moved > 0 else "spend" if moved < 0 else "none"
    return Line(entry=entry, amount=points_amount(moved, points_name), text=text, tone=tone)


def _number(value: Decimal | None) -> str:
    if value is None:
        return ""
    places = 0 if value == value.to_integral_value() else 2
    return formatting.number(value, places=places)


def rule_words(rule: EarningRule, *, points_name: str, currency: str) -> dict:
    """The rule's name and what it gives, in a sentence."""
    unit = formatting.money(Decimal(1), currency)
    if rule.kind == RuleKind.PURCHASE_RATE:
        what = _("%(points)s extra %(name)s for every %(unit)s spent") % {
            "points": _number(rule.points_per_unit),
            "name": points_name,
            "unit": unit,
        }
    elif rule.kind == RuleKind.PURCHASE_MULTIPLIER:
        what = _("%(times)s times the %(name)s on what you buy") % {
            "times": _number(rule.multiplier),
            "name": points_name,
        }
    elif rule.kind == RuleKind.PURCHASE_BONUS:
        what = _("%(points)s bonus %(name)s on an order") % {
            "points": formatting.points(rule.bonus_points or 0),
            "name": points_name,
        }
    else:
        activity = ACTIVITY_WORDS.get(rule.activity_kind) or rule.activity_kind.replace("_", " ")
        what = _("%(points)s %(name)s for %(what)s") % {
            "points": formatting.points(rule.bonus_points or 0),
            "name": points_name,
            "what": activity,
        }
    minimum = ""
    if rule.min_order_total:
        minimum = _("On orders of %(amount)s or more") % {
            "amount": formatting.money(rule.min_order_total, currency)
        }
    return {"name": rule.name, "what": what, "minimum": minimum, "until": rule.valid_until}
