"""The merchant's active program, its earning rules and tiers, cached per process.

Orders and activities need them all (with the campaigns that are scheduled or running) on
every request. They are read once per
``Merchant.config_version``, a token that database triggers renew whenever the program, a
tier or a rule is written (see migration 0002), and which the caller reads in the same
transaction as its writes (the member lock query carries it). A change is therefore seen
by the very next order of every process, and a version never comes back, even after a
rolled-back transaction. The cached instances are shared between threads: read only.
"""

import threading
from dataclasses import dataclass

from loyalty import rules
from loyalty.achievements import windows
from loyalty.achievements.terms import AchievementTerms
from loyalty.exceptions import NoActiveProgram
from loyalty.models import (
    Achievement,
    AchievementWindow,
    Campaign,
    CampaignStatus,
    EarningRule,
    Program,
    RuleKind,
    Tier,
)

# Distinct (merchant, version) pairs kept; the oldest go first. Versions that are no
# longer current are simply never asked for again.
MAX_ENTRIES = 512


@dataclass(frozen=True)
class ProgramConfig:
    program: Program
    terms: rules.ProgramTerms
    order_rules: tuple[rules.RuleTerms, ...]
    activity_rules: tuple[rules.RuleTerms, ...]
    tiers: tuple[Tier, ...]  # by threshold, lowest first; empty when tiers are off
    campaigns: tuple[rules.CampaignTerms, ...] = ()  # scheduled or running
    achievements: tuple[AchievementTerms, ...] = ()  # active

    @property
    def uses_segments(self) -> bool:
        """Whether evaluating needs the member's segments."""
        return (
            any(rule.segment_id for rule in self.order_rules + self.activity_rules)
            or any(campaign.segment_ids for campaign in self.campaigns)
            or any(one.segment_id for one in self.achievements)
        )


_cache: dict[tuple[int, str], ProgramConfig | None] = {}
_last: dict[int, ProgramConfig | None] = {}  # merchant id -> the configuration used last
_lock = threading.Lock()


def rule_terms(rule: EarningRule) -> rules.RuleTerms:
    return rules.RuleTerms(
        id=rule.pk,
        name=rule.name,
        kind=rule.kind,
        priority=rule.priority,
        is_active=rule.is_active,
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
        points_per_unit=rule.points_per_unit,
        multiplier=rule.multiplier,
        bonus_points=rule.bonus_points,
        activity_kind=rule.activity_kind,
        min_order_total=rule.min_order_total,
        include_skus=tuple(rule.include_skus),
        exclude_skus=tuple(rule.exclude_skus),
        include_categories=tuple(rule.include_categories),
        exclude_categories=tuple(rule.exclude_categories),
        store_id=rule.store_id,
        cap_period=rule.cap_period,
        cap_count=rule.cap_count,
        segment_id=rule.segment_id,
    )


def campaign_terms(campaign: Campaign) -> rules.CampaignTerms:
    """``campaign``'s terms (its ``segments`` prefetched, or read here)."""
    return rules.CampaignTerms(
        id=campaign.pk,
        name=campaign.name,
        status=campaign.status,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        priority=campaign.priority,
        stacking=campaign.stacking,
        effect=campaign.effect,
        multiplier=campaign.multiplier,
        points_per_unit=campaign.points_per_unit,
        bonus_points=campaign.bonus_points,
        min_order_total=campaign.min_order_total,
        activity_kind=campaign.activity_kind,
        include_skus=tuple(campaign.include_skus),
        include_categories=tuple(campaign.include_categories),
        segment_ids=frozenset(segment.pk for segment in campaign.segments.all()),
        points_budget=campaign.points_budget,
        cap_period=campaign.cap_period,
        cap_count=campaign.cap_count,
        holdout_percent=campaign.holdout_percent,
    )


def achievement_terms(achievement: Achievement) -> AchievementTerms:
    """The terms the order path and the API read (``ProgramConfig.achievements``)."""
    if achievement.window == AchievementWindow.STREAK:
        window = windows.Window(
            kind=windows.WindowKind.STREAK,
            unit=windows.Unit(achievement.streak_unit),
            length=int(achievement.goal),
        )
    elif achievement.window == AchievementWindow.ROLLING:
        window = windows.Window(kind=windows.WindowKind.ROLLING, days=achievement.window_days)
    else:
        window = windows.Window(kind=windows.WindowKind.OVERALL)
    return AchievementTerms(
        id=achievement.pk,
        name=achievement.name,
        trigger=achievement.trigger,
        measure=achievement.measure,
        goal=achievement.goal,
        window=window,
        repeat=achievement.repeat,
        activity_kind=achievement.activity_kind.strip(),
        min_order_total=achievement.min_order_total,
        skus=frozenset(achievement.skus or ()),
        categories=frozenset(achievement.categories or ()),
        segment_id=achievement.segment_id,
        reward_points=achievement.reward_points,
        starts_at=achievement.starts_at,
        ends_at=achievement.ends_at,
    )


def program_terms(program: Program) -> rules.ProgramTerms:
    return rules.ProgramTerms(base_earn_rate=program.base_earn_rate, rounding=program.rounding)


def _load(merchant_id: int) -> ProgramConfig | None:
    program = Program.objects.filter(merchant_id=merchant_id, is_active=True).first()
    if program is None:
        return None
    rows = EarningRule.objects.filter(program=program, is_active=True)
    active = [rule_terms(rule) for rule in rows]
    tiers = tuple(program.tiers.order_by("threshold")) if program.tiers_enabled else ()
    campaigns = Campaign.objects.filter(
        program=program, status__in=[CampaignStatus.SCHEDULED, CampaignStatus.RUNNING]
    ).prefetch_related("segments")
    return ProgramConfig(
        program=program,
        terms=program_terms(program),
        order_rules=tuple(rule for rule in active if rule.kind != RuleKind.ACTIVITY_BONUS),
        activity_rules=tuple(rule for rule in active if rule.kind == RuleKind.ACTIVITY_BONUS),
        tiers=tiers,
        campaigns=tuple(campaign_terms(campaign) for campaign in campaigns),
        achievements=tuple(
            achievement_terms(one) for one in program.achievements.filter(is_active=True)
        ),
    )


def program_config_last(*, merchant_id: int) -> ProgramConfig | None:
    """The configuration this process used last for the merchant, whatever its version
    (a hint: what is current is read from the merchant row); None when it used none."""
    return _last.get(merchant_id)


def program_config(*, merchant_id: int, version: str) -> ProgramConfig:
    """The configuration at ``version``, which the caller read from the merchant row in
    its current transaction. Raises ``NoActiveProgram`` when there is none."""
    key = (merchant_id, version)
    try:
        config = _cache[key]
        _last[merchant_id] = config
    except KeyError:
        config = _load(merchant_id)
        with _lock:
            if len(_cache) >= MAX_ENTRIES:
                for old in list(_cache)[: MAX_ENTRIES // 4]:
                    _cache.pop(old, None)
            _cache[key] = config
            if len(_last) >= MAX_ENTRIES:
                _last.clear()
            _last[merchant_id] = config
    if config is None:
        raise NoActiveProgram("Configure the merchant's program first.")
    return config
