"""The member page's Redemptions tab (``loyalty.member_tabs``): the member's latest
redemptions with their state in words, and the page actions each still allows (resend,
retry, cancel and refund...), which open the redemption's own confirm pages. Also the
rewards' names the Points tab writes its spends with."""

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from core import formatting
from fulfillment.admin.redemptions import (
    DELIVERY_TONES,
    DELIVERY_WORDS,
    STATUS_TONES,
    STATUS_WORDS,
    redemption_actions,
)
from fulfillment.models import Redemption
from loyalty.member_tabs import MemberTab
from loyalty.models import Member

ROWS = 50


def _row(request: HttpRequest, redemption: Redemption) -> dict[str, Any]:
    face = formatting.money(redemption.face_value, redemption.face_currency, locale="en")
    return {
        "redemption": redemption,
        "url": reverse("admin:fulfillment_redemption_change", args=[redemption.pk]),
        "value": face if redemption.quantity == 1 else f"{redemption.quantity} \u00d7 {face}",
        "status": (
            STATUS_WORDS.get(redemption.status, redemption.status),
            STATUS_TONES.get(redemption.status, ""),
        ),
        "delivery": (
            DELIVERY_WORDS.get(
                redemption.delivery_status, redemption.get_delivery_status_display()
            ),
            DELIVERY_TONES.get(redemption.delivery_status, ""),
        ),
        "actions": redemption_actions(request, redemption),
    }


def redemptions_tab(request: HttpRequest, member: Member) -> dict[str, Any]:
    redemptions = (
        Redemption.objects.filter(merchant=member.merchant, member=member)
        .select_related("reward")
        .order_by("-created_at", "-id")[:ROWS]
    )
    return {
        "rows": [_row(request, redemption) for redemption in redemptions],
        "limit": ROWS,
        "list_url": reverse("admin:fulfillment_redemption_changelist")
        + f"?member__id__exact={member.pk}",
    }


def member_tabs() -> list[MemberTab]:
    return [
        MemberTab(
            "redemptions",
            "Redemptions",
            "admin/fulfillment/member/redemptions.html",
            redemptions_tab,
            permissions=("fulfillment.view_redemption", "fulfillment.change_redemption"),
            order=30,
        )
    ]


def reward_names(public_ids: list[str]) -> dict[str, str]:
    """The reward's name of each redemption by its public id (one query)."""
    return {
        str(public_id): name
        for public_id, name in Redemption.objects.filter(public_id__in=public_ids).values_list(
            "public_id", "reward__name"
        )
    }
