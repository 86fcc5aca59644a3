"""The redemption events for the merchant's own systems (outbound webhooks), written
through ``merchants.services.outbox.event_publish`` in the transaction of the change:
``redemption.created`` (points spent, the order queued), ``redemption.delivered`` and
``redemption.refunded`` (the points given back: refunded or cancelled)."""

import datetime
from typing import Any

from fulfillment.models import Redemption
from loyalty.batch import WriteBatch
from loyalty.events import member_summary
from merchants.models import WebhookEventType
from merchants.services.outbox import event_publish

EventType = WebhookEventType


def redemption_publish(
    *,
    redemption: Redemption,
    type: str,
    at: datetime.datetime,
    reason: str = "",
    batch: WriteBatch | None = None,
) -> None:
    """Publish ``type`` for ``redemption``: written at once, or queued in ``batch`` (the
    caller executes it in the same transaction)."""
    member, reward_name = _member_and_reward(redemption)
    payload = {
        "member": member,
        "redemption": {
            "id": str(redemption.public_id),
            "external_id": redemption.external_id,
            "status": redemption.status,
            "reward": {"id": redemption.reward_id, "name": reward_name},
            "face_value": str(redemption.face_value),
            "face_currency": redemption.face_currency,
            "quantity": redemption.quantity,
            "points": redemption.points_total,
            "country": str(redemption.country),
        },
    }
    if reason:
        payload["reason"] = reason
    event_publish(
        merchant_id=redemption.merchant_id,
        type=type,
        subject=member["external_id"],
        payload=payload,
        occurred_at=at,
        batch=batch,
    )


def _member_and_reward(redemption: Redemption) -> tuple[dict[str, Any], str]:
    """The member's summary and the reward's name: from the instances when the caller
    has them (a new redemption, a dispatch run's locked batch), else in one query."""
    if Redemption.member.is_cached(redemption) and Redemption.reward.is_cached(redemption):
        return member_summary(redemption.member), redemption.reward.name
    row = (
        Redemption.objects.filter(pk=redemption.pk)
        .values(
            "member__external_id",
            "member__points_balance",
            "member__pending_points",
            "member__lifetime_points",
            "member__tier_id",
            "member__tier__name",
            "reward__name",
        )
        .get()
    )
    tier = None
    if row["member__tier_id"] is not None:
        tier = {"id": row["member__tier_id"], "name": row["member__tier__name"]}
    member = {
        "external_id": row["member__external_id"],
        "tier": tier,
        "points_balance": row["member__points_balance"],
        "pending_points": row["member__pending_points"],
        "lifetime_points": row["member__lifetime_points"],
    }
    return member, row["reward__name"]
