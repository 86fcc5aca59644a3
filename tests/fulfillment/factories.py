"""Builders the fulfillment, care and admin tests share."""

import json
from decimal import Decimal

from django.utils import timezone

from catalog.models import SupplierOffer
from core.actors import Actor
from fulfillment.models import Redemption, RedemptionStatus
from fulfillment.services import dispatch, redemptions
from loyalty.models import Member
from merchants.models import Merchant
from tests.catalog.factories import OfferFactory, RewardFactory, SupplierFactory, select


def sandbox_offer(merchant: Merchant, *, stock: int | None = None) -> SupplierOffer:
    """A 25 USD reward offered by the sandbox supplier (``sbx``, seed 3), in the
    merchant's catalog at one point a step."""
    reward = RewardFactory(denominations=["25"])
    supplier = SupplierFactory(
        slug="sbx", adapter="sandbox", adapter_config=json.dumps({"seed": 3})
    )
    offer = OfferFactory(reward=reward, supplier=supplier, stock=stock)
    select(merchant, reward, price_step=1)
    return offer


def redemption_delivered(
    merchant: Merchant, member: Member, offer: SupplierOffer | None = None
) -> Redemption:
    """The member (with points enough) redeems 25 of the offer's reward by email, and the
    sandbox delivers it."""
    offer = offer or sandbox_offer(merchant)
    redemption = redemptions.redemption_create(
        merchant=merchant,
        data=redemptions.RedemptionInput(
            member_external_id=member.external_id,
            reward_id=offer.reward_id,
            value=Decimal("25"),
            recipient={"email": "ana@example.com"},
        ),
        actor=Actor.system("test"),
    ).obj
    dispatch.process_due(now=timezone.now())
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.DELIVERED
    return redemption


def redemption_pending(merchant: Merchant, member: Member, offer: SupplierOffer) -> Redemption:
    """The member (with points enough) redeems 25 of the offer's reward by email; the
    order waits for dispatch."""
    return redemptions.redemption_create(
        merchant=merchant,
        data=redemptions.RedemptionInput(
            member_external_id=member.external_id,
            reward_id=offer.reward_id,
            value=Decimal("25"),
            recipient={"email": "ana@example.com"},
        ),
        actor=Actor.system("test"),
    ).obj
