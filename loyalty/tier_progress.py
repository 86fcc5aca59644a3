"""How far a member is toward their next tier, read the same way by the storefront widget,
the member portal and the admin's member page."""

import datetime
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from loyalty.models import Member, Tier, TierBasis
from loyalty.program_config import ProgramConfig
from loyalty.tiers import qualifying_values


@dataclass(frozen=True, kw_only=True)
class TierProgress:
    """How far the member is toward ``tier``: ``value`` of ``threshold`` (points earned, or
    money spent in the program's currency, within the program's window)."""

    tier: Tier
    basis: str
    value: Decimal
    threshold: Decimal

    @property
    def remaining(self) -> Decimal:
        """What is still missing: whole points (rounded up), or an amount of money."""
        left = max(self.threshold - self.value, Decimal(0))
        if self.basis == TierBasis.POINTS:
            return left.to_integral_value(rounding=ROUND_CEILING)
        return left

    @property
    def percent(self) -> int:
        # Never 100 before the tier is reached: a full bar would say it is.
        if self.threshold <= 0:
            return 99
        return max(0, min(99, int(self.value * 100 / self.threshold)))


def tier_progress(
    *, config: ProgramConfig, member: Member, at: datetime.datetime
) -> TierProgress | None:
    if not config.tiers:
        return None
    value = qualifying_values(program=config.program, member_ids=[member.pk], at=at)[member.pk]
    floor = member.tier.threshold if member.tier else None
    for tier in config.tiers:  # lowest first
        if tier.threshold > value and (floor is None or tier.threshold > floor):
            return TierProgress(
                tier=tier, basis=config.program.tier_basis, value=value, threshold=tier.threshold
            )
    return None
