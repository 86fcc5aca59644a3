"""The member beside the ticket: balance, tier, last orders, the latest ledger entries
and redemptions, with links to their admin pages for those who may open them."""

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from customercare.models import (
    Ticket,
)
from fulfillment.models import Redemption
from loyalty import selectors as loyalty_selectors
from loyalty.exceptions import NoActiveProgram
from loyalty.services.programs import program_get_active

RECENT_ORDERS = 5
RECENT_LEDGER = 10
RECENT_REDEMPTIONS = 10


def admin_link(request: HttpRequest, perms: tuple[str, ...], url: str) -> str:
    return url if any(request.user.has_perm(perm) for perm in perms) else ""


def member_view(request: HttpRequest, ticket: Ticket) -> dict[str, Any]:
    """Balance, tier, the last orders, ledger entries and redemptions, with links to
    their pages for staff who may open them."""
    member = ticket.member
    merchant = ticket.merchant
    orders = list(loyalty_selectors.order_list(merchant=merchant, member=member)[:RECENT_ORDERS])
    ledger = list(
        loyalty_selectors.ledger_entry_list(merchant=merchant, member=member)[:RECENT_LEDGER]
    )
    redemptions = list(
        Redemption.objects.filter(member=member)
        .select_related("reward")
        .order_by("-created_at", "-id")[:RECENT_REDEMPTIONS]
    )
    view_order = ("loyalty.view_order", "loyalty.change_order")
    view_redemption = ("fulfillment.view_redemption", "fulfillment.change_redemption")
    return {
        "member": member,
        "member_url": admin_link(
            request,
            ("loyalty.view_member", "loyalty.change_member"),
            reverse("admin:loyalty_member_change", args=[member.pk]),
        ),
        "ledger_url": admin_link(
            request,
            ("loyalty.view_ledgerentry",),
            reverse("admin:loyalty_ledgerentry_changelist") + f"?member__id__exact={member.pk}",
        ),
        "orders": [
            (
                order,
                admin_link(
                    request, view_order, reverse("admin:loyalty_order_change", args=[order.pk])
                ),
            )
            for order in orders
        ],
        "ledger": ledger,
        "redemptions": [
            (
                redemption,
                admin_link(
                    request,
                    view_redemption,
                    reverse("admin:fulfillment_redemption_change", args=[redemption.pk]),
                ),
            )
            for redemption in redemptions
        ],
    }


def points_name(ticket: Ticket) -> str:
    try:
        return program_get_active(merchant=ticket.merchant).points_name
    except NoActiveProgram:
        return "points"
