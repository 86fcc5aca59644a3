"""The member page, the unified customer view: the summary above every tab (spendable,
pending and soon-expiring points with their dates, the tier and the way to the next) and
loyalty's own tabs. The tabs of the apps that build on loyalty (redemptions, tickets)
come through ``loyalty.member_tabs``; ``MemberAdmin`` puts them together."""

import datetime
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from core import formatting
from core.hooks import app_hooks
from loyalty import selectors
from loyalty.achievements.selectors import member_achievement_list
from loyalty.exceptions import NoActiveProgram
from loyalty.ledger_words import entry_line
from loyalty.member_tabs import MemberTab, other_apps_tabs
from loyalty.models import (
    LedgerEntry,
    Member,
    MessageOptOut,
    Referral,
    TierBasis,
    TierChange,
)
from loyalty.models.ledger import LedgerEntryKind
from loyalty.program_config import program_config
from loyalty.tier_progress import TierProgress, tier_progress
from loyalty.tiers import tier_for

# Points that expire within this are "soon"; the member portal warns over the same days.
EXPIRY_HORIZON = datetime.timedelta(days=30)
ROWS = 50
TEMPLATES = "admin/loyalty/member/tabs"


def reader_day(moment: datetime.datetime) -> datetime.date:
    """The day ``moment`` falls on for the staff user reading (their time zone)."""
    return timezone.localtime(moment).date()


def _program_config(member: Member):
    merchant = member.merchant
    try:
        return program_config(merchant_id=merchant.pk, version=merchant.config_version)
    except NoActiveProgram:
        return None


def summary(member: Member) -> dict[str, Any]:
    """The figures above every tab."""
    config = _program_config(member)
    outlook = selectors.member_points_outlook(
        merchant=member.merchant,
        member=member,
        now=timezone.now(),
        horizon=EXPIRY_HORIZON,
        day=reader_day,
    )
    progress = tier_progress(config=config, member=member, at=timezone.now()) if config else None
    program = config.program if config else None
    return {
        "points_name": program.points_name if program else "points",
        "outlook": outlook,
        "progress": progress,
        "progress_remaining": _remaining(progress, program),
        "qualifies_for": _qualifies_for(member, progress, config.tiers if config else []),
        "tiers_enabled": bool(config and config.tiers),
        "expiry_days": EXPIRY_HORIZON.days,
    }


def _qualifies_for(member: Member, progress: TierProgress | None, tiers: list) -> Any:
    """A higher tier than the member's that their qualifying value already reaches: they
    move up with their next order, or at the scheduled recomputation."""
    if progress is None:
        return None
    reached = tier_for(tiers, progress.value)
    current = member.tier.threshold if member.tier else None
    if reached is not None and (current is None or reached.threshold > current):
        return reached
    return None


def _remaining(progress: TierProgress | None, program) -> str:
    if progress is None or program is None:
        return ""
    if progress.basis == TierBasis.SPEND:
        return formatting.money(progress.remaining, program.currency, locale="en")
    return f"{formatting.points(int(progress.remaining), locale='en')} {program.points_name}"


def _reward_names(entries: list[LedgerEntry]) -> dict[str, str]:
    refs = [
        entry.source_ref
        for entry in entries
        if entry.kind in (LedgerEntryKind.REDEEM, LedgerEntryKind.REDEMPTION_REFUND)
    ]
    names: dict[str, str] = {}
    for hook in app_hooks("reward_names") if refs else ():
        names.update(hook(refs))
    return names


def points_tab(request: HttpRequest, member: Member) -> dict[str, Any]:
    entries = list(
        selectors.ledger_entry_list(merchant=member.merchant, member=member).select_related(
            "order", "activity"
        )[:ROWS]
    )
    config = _program_config(member)
    points_name = config.program.points_name if config else "points"
    rewards = _reward_names(entries)
    return {
        "lines": [entry_line(entry, points_name=points_name, rewards=rewards) for entry in entries],
        "rows": ROWS,
        "ledger_url": reverse("admin:loyalty_ledgerentry_changelist")
        + f"?member__id__exact={member.pk}",
    }


def orders_tab(request: HttpRequest, member: Member) -> dict[str, Any]:
    orders = selectors.order_list(merchant=member.merchant, member=member)[:ROWS]
    return {
        "orders": [
            {
                "order": order,
                "url": reverse("admin:loyalty_order_change", args=[order.pk]),
                "total": formatting.money(order.total, order.currency, locale="en"),
            }
            for order in orders
        ],
        "rows": ROWS,
        "orders_url": reverse("admin:loyalty_order_changelist") + f"?member__id__exact={member.pk}",
    }


def tier_tab(request: HttpRequest, member: Member) -> dict[str, Any]:
    changes = (
        TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier")
        .order_by("-created_at", "-id")[:ROWS]
    )
    config = _program_config(member)
    return {"changes": changes, "tiers": config.tiers if config else []}


def segments_tab(request: HttpRequest, member: Member) -> dict[str, Any]:
    return {"stays": selectors.member_segment_list(merchant=member.merchant, member=member)}


def achievements_tab(request: HttpRequest, member: Member) -> dict[str, Any]:
    return {
        "statuses": member_achievement_list(
            merchant=member.merchant, member=member, now=timezone.now()
        )
    }


def referrals_tab(request: HttpRequest, member: Member) -> dict[str, Any]:
    def rows(**lookup: Any):
        return (
            Referral.objects.filter(merchant=member.merchant, **lookup)
            .select_related("advocate", "friend")
            .order_by("-created_at", "-id")[:ROWS]
        )

    return {"made": rows(advocate=member), "received": rows(friend=member)}


def consents_tab(request: HttpRequest, member: Member) -> dict[str, Any]:
    return {
        "opt_outs": MessageOptOut.objects.filter(member=member).order_by("kind"),
        "messages": member.messages.order_by("-created_at", "-id")[:ROWS],
    }


@dataclass(frozen=True)
class HistoryLine:
    at: datetime.datetime
    who: str
    what: str
    why: str


def history_tab(request: HttpRequest, member: Member) -> dict[str, Any]:
    """Who changed what, when and why: staff's edits in this admin, tier moves, points
    corrected by hand or given as goodwill, and the erasure. The profile's own changes
    from the store are the store's records (its API calls carry no history here)."""
    lines: list[HistoryLine] = [
        HistoryLine(
            at=log.action_time,
            who=log.user.get_username() if log.user_id else "",
            what=log.get_change_message() or str(log.get_action_flag_display()),
            why="",
        )
        for log in LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Member), object_id=str(member.pk)
        )
        .select_related("user")
        .order_by("-action_time")[:ROWS]
    ]
    lines += [
        HistoryLine(
            at=change.created_at,
            who=change.actor_label,
            what=f"Tier: {change.from_tier.name if change.from_tier else 'no tier'} → "
            f"{change.to_tier.name if change.to_tier else 'no tier'}",
            why=change.reason,
        )
        for change in TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier")
        .order_by("-created_at", "-id")[:ROWS]
    ]
    lines += [
        HistoryLine(
            at=entry.created_at,
            who=entry.actor_label,
            what=f"{formatting.signed_or_plain_points(entry.points, signed=True)} points "
            + (
                f"of goodwill (ticket {entry.source_ref})"
                if entry.source_type == LedgerEntry.Source.TICKET
                else "by hand"
            ),
            why=entry.reason,
        )
        for entry in LedgerEntry.objects.filter(
            merchant=member.merchant, member=member, kind=LedgerEntryKind.ADJUST
        ).order_by("-created_at", "-id")[:ROWS]
    ]
    if member.anonymised_at:
        lines.append(
            HistoryLine(
                at=member.anonymised_at,
                who="",
                what="Personal data erased",
                why="The member's request",
            )
        )
    lines.sort(key=lambda line: line.at, reverse=True)
    return {"lines": lines[:ROWS], "rows": ROWS}


LOYALTY_TABS = (
    MemberTab("points", "Points", f"{TEMPLATES}/points.html", points_tab, order=10),
    MemberTab("orders", "Orders", f"{TEMPLATES}/orders.html", orders_tab, order=20),
    MemberTab("tier", "Tier", f"{TEMPLATES}/tier.html", tier_tab, order=50),
    MemberTab("segments", "Segments", f"{TEMPLATES}/segments.html", segments_tab, order=60),
    MemberTab(
        "achievements", "Achievements", f"{TEMPLATES}/achievements.html", achievements_tab, order=70
    ),
    MemberTab("referrals", "Referrals", f"{TEMPLATES}/referrals.html", referrals_tab, order=80),
    MemberTab(
        "consents", "Consents and messages", f"{TEMPLATES}/consents.html", consents_tab, order=90
    ),
    MemberTab("history", "History", f"{TEMPLATES}/history.html", history_tab, order=100),
)
PROFILE = "profile"


def member_tabs(request: HttpRequest) -> list[MemberTab]:
    """Every tab this user may open, in order; the profile (the form) first."""
    tabs = [*LOYALTY_TABS, *other_apps_tabs()]
    return sorted((tab for tab in tabs if tab.allowed(request)), key=lambda tab: tab.order)
