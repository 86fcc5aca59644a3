"""Writes of campaigns: their terms, their status (a state machine with events), the
scheduler's moves at start and end, a budget running out, and the coupon pool."""

import contextlib
import datetime
import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.actors import Actor, actor_label, actor_user
from core.exceptions import DomainError, InvalidTransition
from loyalty.models import (
    CAMPAIGN_TRANSITIONS,
    Campaign,
    CampaignCoupon,
    CampaignEffect,
    CampaignEvent,
    CampaignSpend,
    CampaignStatus,
)

logger = logging.getLogger("loyalty.campaigns")

MAX_COUPON_CODES = 100_000
MAX_CODE_LENGTH = 64


def campaign_clean(campaign: Campaign) -> None:
    """What a database constraint cannot say, in words a marketer reads on the form."""
    errors: dict[str, str] = {}
    effect = campaign.effect
    needs = {
        CampaignEffect.MULTIPLIER: ("multiplier", "Give the multiplier, above 1 (2 doubles)."),
        CampaignEffect.PER_UNIT: ("points_per_unit", "Give the points per currency unit."),
        CampaignEffect.ORDER_BONUS: ("bonus_points", "Give the bonus points."),
        CampaignEffect.ACTIVITY_BONUS: ("bonus_points", "Give the bonus points."),
    }
    if effect in needs:
        name, message = needs[effect]
        value = getattr(campaign, name)
        if value is None or value <= (1 if name == "multiplier" else 0):
            errors[name] = message
    if effect == CampaignEffect.ACTIVITY_BONUS and not campaign.activity_kind.strip():
        errors["activity_kind"] = "Name the activity kind the bonus is for."
    if effect == CampaignEffect.ORDER_BONUS and campaign.min_order_total is None:
        errors["min_order_total"] = "A bonus on orders above a minimum needs the minimum."
    if campaign.starts_at and campaign.ends_at and campaign.ends_at <= campaign.starts_at:
        errors["ends_at"] = "The campaign must end after it starts."
    for name in ("include_skus", "include_categories"):
        value = getattr(campaign, name)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            errors[name] = 'A list of names, e.g. ["tents", "stoves"].'
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def campaign_save(
    *, campaign: Campaign, actor: Actor, segments: Iterable | None = None
) -> Campaign:
    """Check and save a campaign's terms (and its target ``segments`` when given: they
    must be the program's merchant's). A new campaign starts as a draft, with its spend
    row. An ended campaign's terms are history: they stay as they are."""
    if campaign.pk is not None:
        stored = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if stored.status == CampaignStatus.ENDED:
            raise DomainError("An ended campaign cannot be changed.", field="status")
        campaign.status = stored.status
    elif campaign.created_by_id is None:
        campaign.created_by = actor_user(actor)
    campaign_clean(campaign)
    campaign.full_clean(exclude=["created_by", "segments"])
    if segments is not None:
        segments = list(segments)
        merchant_id = campaign.program.merchant_id
        if any(segment.merchant_id != merchant_id for segment in segments):
            raise ValidationError({"segments": "Target only this merchant's segments."})
    created = campaign.pk is None
    campaign.save()
    if segments is not None:
        campaign.segments.set(segments)
    if created:
        CampaignSpend.objects.create(campaign=campaign)
        _event(campaign, "", CampaignStatus.DRAFT, "created", actor)
    else:
        budget_raised(campaign=campaign)
    return campaign


def _event(campaign: Campaign, from_status: str, to_status: str, reason: str, actor: Actor):
    return CampaignEvent.objects.create(
        campaign=campaign,
        from_status=from_status,
        to_status=to_status,
        reason=reason[:300],
        actor=actor_user(actor),
        actor_label=actor_label(actor)[:150],
        at=timezone.now(),
    )


def campaign_may_move(*, campaign: Campaign, to_status: str) -> bool:
    return to_status in CAMPAIGN_TRANSITIONS.get(campaign.status, ())


def campaign_transition(
    *, campaign: Campaign, to_status: str, reason: str, actor: Actor
) -> Campaign:
    """Move ``campaign`` to ``to_status`` and record who, when and why: a compare-and-swap
    on the status, so two moves at once make one. ``InvalidTransition`` otherwise."""
    from_status = campaign.status
    if not campaign_may_move(campaign=campaign, to_status=to_status):
        raise InvalidTransition(
            f"A {from_status} campaign cannot become {to_status}.",
            field="status",
            from_status=from_status,
            to_status=to_status,
        )
    if to_status == CampaignStatus.SCHEDULED and campaign.ends_at <= timezone.now():
        raise InvalidTransition(
            "The campaign's end has passed: move its dates first.",
            field="ends_at",
            from_status=from_status,
            to_status=to_status,
        )
    with transaction.atomic():
        moved = Campaign.objects.filter(pk=campaign.pk, status=from_status).update(
            status=to_status, updated_at=timezone.now()
        )
        if not moved:
            current = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True)
            raise InvalidTransition(
                f"The campaign became {current.first()} meanwhile.",
                field="status",
                from_status=current.first() or "",
                to_status=to_status,
            )
        campaign.status = to_status
        _event(campaign, from_status, to_status, reason, actor)
    return campaign


def campaigns_advance(*, now: datetime.datetime) -> dict[str, int]:
    """The scheduler's moves: a scheduled campaign whose start passed runs, a campaign
    whose end passed ends, and a running one whose budget is spent is paused (with ops
    told). Safe to run twice at once (each move is a
    compare-and-swap)."""
    counts = {"started": 0, "ended": 0, "budget_spent": 0}
    system = Actor.system("scheduler")
    live = [CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.PAUSED]
    moves = (
        ("ended", CampaignStatus.ENDED, "its end passed", Q(status__in=live, ends_at__lte=now)),
        (
            "started",
            CampaignStatus.RUNNING,
            "its start came",
            Q(status=CampaignStatus.SCHEDULED, starts_at__lte=now, ends_at__gt=now),
        ),
    )
    for counter, to_status, reason, due in moves:
        for campaign in Campaign.objects.filter(due):
            try:
                campaign_transition(
                    campaign=campaign, to_status=to_status, reason=reason, actor=system
                )
            except InvalidTransition:
                continue  # moved by another run meanwhile
            counts[counter] += 1
    # A budget an order used up exactly is found here (the next order would find it too).
    spent = CampaignSpend.objects.filter(
        exhausted_at__isnull=True,
        campaign__status=CampaignStatus.RUNNING,
        campaign__points_budget__isnull=False,
        points_given__gte=F("campaign__points_budget"),
    ).values_list("campaign_id", flat=True)
    counts["budget_spent"] = sum(campaign_budget_spent(campaign_id=pk) for pk in list(spent))
    return counts


def campaign_budget_spent(*, campaign_id: int) -> bool:
    """A campaign's budget ran out: record it once, pause the campaign (ops may raise the
    budget and resume it) and tell the Marketing staff and its author by email. Returns
    whether this call was the one that recorded it."""
    now = timezone.now()
    marked = CampaignSpend.objects.filter(
        campaign_id=campaign_id,
        exhausted_at__isnull=True,
        campaign__points_budget__isnull=False,
        points_given__gte=F("campaign__points_budget"),
    ).update(exhausted_at=now)
    if not marked:
        return False
    campaign = Campaign.objects.select_related("program__merchant", "created_by").get(
        pk=campaign_id
    )
    if campaign.status == CampaignStatus.RUNNING:
        with contextlib.suppress(InvalidTransition):
            campaign_transition(
                campaign=campaign,
                to_status=CampaignStatus.PAUSED,
                reason=f"its budget of {campaign.points_budget} points is spent",
                actor=Actor.system("budget"),
            )
    logger.warning("campaign %s spent its budget of %s points", campaign.pk, campaign.points_budget)
    recipients = _budget_recipients(campaign)
    if recipients:
        send_mail(
            subject=f"Campaign budget spent: {campaign.name} ({campaign.program.merchant.name})",
            message=(
                f"The campaign {campaign.name!r} of {campaign.program.merchant.name} gave "
                f"its whole budget of {campaign.points_budget} points and was paused.\n\n"
                "Raise the budget and resume it, or end it:\n"
                f"{settings.PUBLIC_BASE_URL}/admin/loyalty/campaign/{campaign.pk}/change/\n"
            ),
            from_email=None,
            recipient_list=recipients,
        )
    return True


def _budget_recipients(campaign: Campaign) -> list[str]:
    users = get_user_model().objects.filter(
        Q(groups__name="Marketing") | Q(pk=campaign.created_by_id),
        is_active=True,
        is_staff=True,
    )
    return sorted({user.email for user in users if user.email})


def budget_raised(*, campaign: Campaign) -> None:
    """A budget raised above what was given opens the campaign's spend again."""
    if campaign.points_budget is None:
        CampaignSpend.objects.filter(campaign=campaign).update(exhausted_at=None)
    else:
        CampaignSpend.objects.filter(
            campaign=campaign, points_given__lt=campaign.points_budget
        ).update(exhausted_at=None)


def coupon_codes_check(codes: Iterable[str]) -> list[str]:
    """The codes of a paste or file (one per line), stripped, without blanks or repeats;
    ``DomainError`` on the first that cannot be a code."""
    cleaned: list[str] = []
    seen: set[str] = set()
    for raw in codes:
        code = raw.strip()
        if not code or code in seen:
            continue
        if len(code) > MAX_CODE_LENGTH or not code.isprintable():
            raise DomainError(
                f"Not a code (at most {MAX_CODE_LENGTH} printable characters): {code[:40]!r}.",
                field="codes",
            )
        seen.add(code)
        cleaned.append(code)
        if len(cleaned) > MAX_COUPON_CODES:
            raise DomainError(f"At most {MAX_COUPON_CODES} codes at once.", field="codes")
    return cleaned


def coupon_codes_add(*, campaign: Campaign, codes: Iterable[str]) -> int:
    """Add codes to a coupon campaign's pool; blanks and codes already in the pool are
    skipped. Returns how many were added."""
    if campaign.effect != CampaignEffect.COUPON:
        raise DomainError("Only a coupon campaign has a code pool.", field="effect")
    cleaned = coupon_codes_check(codes)
    before = CampaignCoupon.objects.filter(campaign=campaign).count()
    CampaignCoupon.objects.bulk_create(
        [CampaignCoupon(campaign=campaign, code=code) for code in cleaned],
        ignore_conflicts=True,
        batch_size=2000,
    )
    return CampaignCoupon.objects.filter(campaign=campaign).count() - before
