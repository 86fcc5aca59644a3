"""The ledger, the earning rules and the campaigns in the member's words and language:
"+120 Stars for order 1043", "-500 Stars: a reward", "+50 Stars from our team", "twice
the Stars on what you buy". Numbers go through Babel in the active language. Pure: reads
the objects given, queries nothing."""

import datetime
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from babel.lists import format_list
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from core import formatting
from loyalty.models import (
    ActivityKind,
    Campaign,
    CampaignCap,
    CampaignEffect,
    EarningRule,
    LedgerEntry,
    RuleKind,
)
from loyalty.models.ledger import LedgerEntryKind

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


def entry_words(
    entry: LedgerEntry, *, points_name: str, reward: str = "", achievement: str = ""
) -> Line:
    """``reward``: the name of the reward a redemption's spend or refund was for;
    ``achievement``: the name of the achievement an entry rewards."""
    kind, source = entry.kind, entry.source_type
    moved = entry.points if entry.points else entry.pending
    order = entry.order.external_id if entry.order_id else entry.source_ref
    if kind == LedgerEntryKind.EARN and source == LedgerEntry.Source.ORDER:
        text = _("For order %(order)s") % {"order": order}
        if entry.pending and not entry.points:
            text = _("For order %(order)s, spendable once the return window ends") % {
                "order": order
            }
    elif kind == LedgerEntryKind.EARN and source == LedgerEntry.Source.ACHIEVEMENT:
        text = (
            _("For the achievement %(name)s") % {"name": achievement}
            if achievement
            else _("For an achievement")
        )
    elif kind == LedgerEntryKind.EARN and source == LedgerEntry.Source.REFERRAL:
        # The referral's two sides: its reason says which (loyalty.referrals.qualify).
        text = (
            _("For a friend you invited")
            if "(advocate)" in entry.reason
            else _("For joining with a friend's invitation")
        )
    elif kind == LedgerEntryKind.EARN and entry.activity_id:
        what = ACTIVITY_WORDS.get(entry.activity.kind) or entry.activity.custom_kind
        text = _("For %(what)s") % {"what": what} if what else _("Earned")
    elif kind == LedgerEntryKind.EARN:
        text = _("Earned")
    elif kind == LedgerEntryKind.RELEASE:
        text = (
            _("Now spendable, from order %(order)s") % {"order": order}
            if order
            else _("Now spendable, from your orders")
        )
    elif kind == LedgerEntryKind.REDEEM:
        text = _("Spent on %(reward)s") % {"reward": reward} if reward else _("Spent on a reward")
    elif kind == LedgerEntryKind.REDEMPTION_REFUND:
        text = (
            _("Given back: %(reward)s could not be delivered") % {"reward": reward}
            if reward
            else _("Given back: a reward could not be delivered")
        )
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
    """A rate as people write it: 2, 1.5, 1.25 (never 1.50 or 2.000)."""
    if value is None:
        return ""
    exponent = value.normalize().as_tuple().exponent
    places = min(-exponent, 4) if isinstance(exponent, int) and exponent < 0 else 0
    return formatting.number(value, places=places)


def rule_words(rule: EarningRule, *, points_name: str, currency: str) -> dict:
    """The rule's name and what it gives, in a sentence (a campaign's words where the
    effect is the same)."""
    on_what = _on_what(rule)
    if rule.kind == RuleKind.PURCHASE_RATE:
        what = _per_unit_words(rule.points_per_unit, points_name, currency, on_what)
    elif rule.kind == RuleKind.PURCHASE_MULTIPLIER:
        what = _multiplier_words(rule.multiplier, points_name, on_what)
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


@dataclass(frozen=True)
class CampaignWords:
    campaign: Campaign
    name: str
    description: str
    what: str  # the effect, in a sentence
    notes: tuple[str, ...]  # its conditions: a minimum order, how often
    until: str  # "Until 31 Dec 2026", the last day in the merchant's time zone


def _on_what(terms: Campaign | EarningRule) -> str:
    """What of an order a campaign or rule counts, when it counts only some lines: its
    categories by name (the store's own words), else "selected products" (SKUs are codes
    nobody reads)."""
    if terms.include_categories:
        return format_list(
            [str(one) for one in terms.include_categories], locale=formatting.reader_locale()
        )
    if terms.include_skus:
        return _("selected products")
    return ""


def _multiplier_words(multiplier: Decimal | None, points_name: str, on_what: str) -> str:
    values = {"times": _number(multiplier), "name": points_name, "what": on_what}
    if on_what:
        return _("%(times)s× the %(name)s on %(what)s") % values  # noqa: RUF001
    return _("%(times)s× the %(name)s on what you buy") % values  # noqa: RUF001


def _per_unit_words(points: Decimal | None, points_name: str, currency: str, on_what: str) -> str:
    values = {
        "points": _number(points),
        "name": points_name,
        "unit": formatting.money(Decimal(1), currency),
        "what": on_what,
    }
    if on_what:
        return _("%(points)s extra %(name)s for every %(unit)s spent on %(what)s") % values
    return _("%(points)s extra %(name)s for every %(unit)s spent") % values


def _how_often(campaign: Campaign) -> str:
    count, period = campaign.cap_count, campaign.cap_period
    if period == CampaignCap.EVER:
        if count == 1:
            return _("Once per member")
        return ngettext("Up to %(count)s time", "Up to %(count)s times", count) % {"count": count}
    if period == CampaignCap.DAY:
        return ngettext("Once a day", "Up to %(count)s times a day", count) % {"count": count}
    if period == CampaignCap.MONTH:
        return ngettext("Once a month", "Up to %(count)s times a month", count) % {"count": count}
    return ""


def campaign_words(
    campaign: Campaign, *, points_name: str, currency: str, tz: zoneinfo.ZoneInfo
) -> CampaignWords:
    """What the campaign gives the member, in a sentence, with its conditions and its
    last day. A campaign counts up to (not including) ``ends_at``: the last day is the one
    of the moment just before, so one ending at midnight ends "until" the day before."""
    on_what = _on_what(campaign)
    effect = campaign.effect
    minimum = ""
    if campaign.min_order_total:
        minimum = formatting.money(campaign.min_order_total, currency)
    if effect == CampaignEffect.MULTIPLIER:
        what = _multiplier_words(campaign.multiplier, points_name, on_what)
    elif effect == CampaignEffect.PER_UNIT:
        what = _per_unit_words(campaign.points_per_unit, points_name, currency, on_what)
    elif effect == CampaignEffect.ORDER_BONUS:
        values = {
            "points": formatting.points(campaign.bonus_points or 0),
            "name": points_name,
            "amount": minimum,
        }
        what = (
            _("%(points)s bonus %(name)s on an order of %(amount)s or more") % values
            if minimum
            else _("%(points)s bonus %(name)s on an order") % values
        )
        minimum = ""  # said already
    elif effect == CampaignEffect.ACTIVITY_BONUS:
        activity = ACTIVITY_WORDS.get(campaign.activity_kind) or campaign.activity_kind.replace(
            "_", " "
        )
        what = _("%(points)s bonus %(name)s for %(what)s") % {
            "points": formatting.points(campaign.bonus_points or 0),
            "name": points_name,
            "what": activity,
        }
    elif effect == CampaignEffect.UNLOCK_REWARD:
        what = _("Rewards open to you alone: find them among the rewards")
    elif effect == CampaignEffect.COUPON:
        what = _("A coupon code with your next order")
    else:
        what = ""
    notes = []
    if minimum:
        notes.append(_("On orders of %(amount)s or more") % {"amount": minimum})
    # A coupon comes once per member whatever the cap; rewards unlocked are not counted.
    counted = effect not in (CampaignEffect.COUPON, CampaignEffect.UNLOCK_REWARD)
    if counted and (how_often := _how_often(campaign)):
        notes.append(how_often)
    last_day = timezone.localtime(campaign.ends_at - datetime.timedelta(microseconds=1), tz)
    return CampaignWords(
        campaign=campaign,
        name=campaign.name,
        description=campaign.description,
        what=what,
        notes=tuple(notes),
        until=_("Until %(date)s") % {"date": formatting.date(last_day.date())},
    )
