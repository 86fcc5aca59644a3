"""The order simulator: what an order would earn now, with every rule, tier multiplier
and campaign that would apply, and why the others would not. Writes nothing."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from core.exceptions import DomainError
from loyalty import earning, rules
from loyalty.exceptions import MemberNotActive
from loyalty.models import Member, MemberStatus, Program, Segment, Tier
from loyalty.program_config import ProgramConfig, program_config
from loyalty.services.orders import OrderInput, order_facts, order_store, validate_order
from merchants.models import Merchant


@dataclass(frozen=True)
class Assumed:
    """What to assume of a member who does not exist yet: their tier and segments."""

    tier_name: str | None = None
    segment_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Simulation:
    member: Member | None  # None: hypothetical
    tier: Tier | None
    segment_ids: frozenset[int]
    program: Program
    program_total: Decimal
    evaluation: rules.Evaluation
    at: datetime.datetime


def order_simulate(
    *, merchant: Merchant, data: OrderInput, assumed: Assumed | None = None
) -> Simulation:
    """What ``data`` would earn now, with every rule, tier multiplier and campaign that
    would apply, and why the others would not; writes nothing. An unknown member is
    hypothetical: new, with the tier and segments ``assumed`` (or none)."""
    validate_order(data)
    store = order_store(merchant, data)
    now = timezone.now()
    version = Merchant.objects.values_list("config_version", flat=True).get(pk=merchant.pk)
    config = program_config(merchant_id=merchant.pk, version=version)
    member = (
        Member.objects.select_related("tier")
        .filter(merchant=merchant, external_id=data.member_external_id)
        .first()
    )
    if member is not None and assumed is not None:
        raise DomainError(
            "The member exists: their own tier and segments are used.", field="assume"
        )
    if member is not None and member.status != MemberStatus.ACTIVE:
        raise MemberNotActive(f"The member is {member.status}.", field="member")
    tier, segment_ids = None, None
    if member is None:
        tier, segment_ids = _assumed(merchant, config, assumed or Assumed())
    else:
        tier = member.tier
    conversion, facts = order_facts(config.program, data, store)
    member_facts = earning.member_facts(
        merchant=merchant,
        member=member,
        rule_rows=config.order_rules,
        at=data.placed_at,
        campaigns=config.campaigns,
        segment_ids=segment_ids,
        tier=tier,
    )
    evaluation = earning.evaluate(config, member_facts, facts, now)
    return Simulation(
        member=member,
        tier=tier,
        segment_ids=member_facts.segment_ids,
        program=config.program,
        program_total=conversion.amount,
        evaluation=evaluation,
        at=now,
    )


def _assumed(
    merchant: Merchant, config: ProgramConfig, assumed: Assumed
) -> tuple[Tier | None, frozenset[int]]:
    tier = None
    if assumed.tier_name:
        tier = next((t for t in config.tiers if t.name == assumed.tier_name), None)
        if tier is None:
            raise DomainError(f"No tier {assumed.tier_name!r} in the program.", field="assume.tier")
    segment_ids = frozenset(assumed.segment_ids)
    if segment_ids:
        known = set(
            Segment.objects.filter(merchant=merchant, pk__in=segment_ids).values_list(
                "pk", flat=True
            )
        )
        if unknown := segment_ids - known:
            raise DomainError(
                f"No segment {min(unknown)} for this merchant.", field="assume.segments"
            )
    return tier, segment_ids
