"""What the storefront widget shows, read through the selectors of the apps that own it: the
store by its public id, its merchant's program and brand, and one member's points, tier,
progress to the next tier and the rewards they can afford.

Everything is reached through the store: the member is looked up in the store's merchant
only, so a token for one store never reads another merchant's member.
"""

import datetime
import uuid
from dataclasses import dataclass

from catalog.selectors import MemberReward, RewardFilters, catalog_for_member, member_rewards
from core.exceptions import NotFound
from integrations.widget.colours import widget_colours
from loyalty.exceptions import NoActiveProgram
from loyalty.external_ids import is_external_id
from loyalty.models import Member, MemberStatus, Program, Tier
from loyalty.program_config import ProgramConfig, program_config
from loyalty.tier_progress import TierProgress, tier_progress
from merchants.models import Store
from merchants.selectors import PORTAL_CLOSED_STATUSES, merchant_brand

# The widget is a glance, not the catalog: the member portal lists the rest.
REWARDS_SHOWN = 3


@dataclass(frozen=True, kw_only=True)
class WidgetStore:
    store: Store
    config: ProgramConfig

    @property
    def program(self) -> Program:
        return self.config.program


def widget_store_get(*, public_id: str) -> WidgetStore:
    """The active store with this public id whose merchant runs a program, or ``NotFound``
    (a merchant out of the program for good has no widget, like no portal)."""
    try:
        parsed = uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound("No store has that id.", field="store") from None
    store = (
        Store.objects.select_related("merchant")
        .filter(public_id=parsed, is_active=True)
        .exclude(merchant__status__in=PORTAL_CLOSED_STATUSES)
        .first()
    )
    if store is None:
        raise NotFound("No store has that id.", field="store")
    merchant = store.merchant
    try:
        config = program_config(merchant_id=merchant.pk, version=merchant.config_version)
    except NoActiveProgram:
        raise NotFound("No store has that id.", field="store") from None
    return WidgetStore(store=store, config=config)


def widget_colours_for(*, widget: WidgetStore) -> dict[str, str]:
    return widget_colours(merchant_brand(merchant=widget.store.merchant).colour)


@dataclass(frozen=True, kw_only=True)
class MemberView:
    member: Member
    tier: Tier | None
    next_tier: TierProgress | None
    at_top_tier: bool
    rewards: list[MemberReward]
    rewards_affordable: int
    next_reward: MemberReward | None


def widget_member_get(
    *, widget: WidgetStore, external_id: str, at: datetime.datetime
) -> MemberView | None:
    """The member of the store's merchant with this ``external_id`` as the widget shows
    them, or None when the merchant has no such member (yet)."""
    merchant = widget.store.merchant
    if not is_external_id(external_id):
        return None
    member = (
        Member.objects.select_related("tier")
        .filter(merchant=merchant, external_id=external_id)
        .exclude(status=MemberStatus.ANONYMISED)
        .first()
    )
    if member is None:
        return None
    config = widget.config
    progress = tier_progress(config=config, member=member, at=at)
    affordable = catalog_for_member(
        merchant=merchant,
        member=member,
        filters=RewardFilters(max_points=member.points_balance),
    )
    # The dearest the member can have first: what their points are worth at best. An item
    # priced under an older point value is priced again by ``member_rewards`` and may no
    # longer be affordable, hence a few spare.
    candidates = affordable.order_by("-min_points", "reward_id")[: REWARDS_SHOWN * 2]
    rewards = [
        reward
        for reward in member_rewards(items=candidates, member=member, program=config.program)
        if reward.affordable
    ][:REWARDS_SHOWN]
    count = affordable.count() if len(rewards) == REWARDS_SHOWN else len(rewards)
    next_reward = None
    if not rewards:
        cheapest = catalog_for_member(merchant=merchant, member=member)[:1]
        next_reward = next(
            iter(member_rewards(items=cheapest, member=member, program=config.program)), None
        )
    return MemberView(
        member=member,
        tier=member.tier if config.tiers else None,
        next_tier=progress,
        at_top_tier=bool(config.tiers) and member.tier is not None and progress is None,
        rewards=rewards,
        rewards_affordable=count,
        next_reward=next_reward,
    )
