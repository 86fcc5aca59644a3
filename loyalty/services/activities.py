"""Activities: a non-purchase activity (a review, a sign-up, a custom kind) credits what
the program's rules give for it."""

import datetime
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.actors import Actor
from core.exceptions import DomainError
from loyalty import earning, ledger, rules
from loyalty.achievements import services as achievements
from loyalty.achievements.terms import Happening
from loyalty.batch import WriteBatch
from loyalty.exceptions import NoActiveProgram
from loyalty.models import Activity, ActivityKind, LedgerEntry
from loyalty.program_config import program_config
from loyalty.recording import Recorded, replay, request_digest
from loyalty.services.members import member_locked, member_tier_attach
from loyalty.services.orders import check_when
from loyalty.services.programs import lot_expiry
from merchants.models import Merchant


@dataclass(frozen=True)
class ActivityInput:
    external_id: str
    member_external_id: str
    kind: str
    occurred_at: datetime.datetime | None = None  # when the store sent none: now
    custom_kind: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    # The profile of a member the activity may create (the store sent a member object);
    # None when the store named the member by external_id alone: they must exist.
    member_fields: dict[str, Any] | None = None


def activity_record(*, merchant: Merchant, data: ActivityInput, actor: Actor) -> Recorded:
    """Record a non-purchase activity and credit what the program's rules give for it.

    An activity creates its member only from a member object (``member_fields`` given);
    a member named by external_id alone must exist, or it is a 404 on ``member``. (An
    order creates its member either way: a purchase is how a customer becomes one.)"""
    # How the member was named is not part of what the activity is: the same activity
    # sent once with a member object and again with the bare id is a replay.
    digest = request_digest({**asdict(data), "member_fields": data.member_fields or {}})
    if data.kind not in ActivityKind.values:
        raise DomainError(f"Unknown activity kind {data.kind!r}.", field="kind")
    if data.kind == ActivityKind.CUSTOM and not data.custom_kind.strip():
        raise DomainError("A custom activity needs custom_kind.", field="custom_kind")
    if data.occurred_at is not None:
        check_when(data.occurred_at, "occurred_at")
    try:
        with transaction.atomic():
            activity = _activity_create(merchant, data, digest, actor)
        return Recorded(obj=activity, replayed=False)
    except (IntegrityError, NoActiveProgram):
        existing = Activity.objects.filter(merchant=merchant, external_id=data.external_id).first()
        if existing is None:
            raise
        return replay(existing, digest, "Activity")


def _activity_create(
    merchant: Merchant, data: ActivityInput, digest: str, actor: Actor
) -> Activity:
    now = timezone.now()
    occurred_at = data.occurred_at or now
    member = member_locked(merchant, data.member_external_id, data.member_fields)
    config = program_config(merchant_id=merchant.pk, version=member.config_version)
    member_tier_attach(member, config)
    custom_kind = data.custom_kind.strip()
    kind = custom_kind if data.kind == ActivityKind.CUSTOM else data.kind
    facts = rules.ActivityFacts(kind=kind, occurred_at=occurred_at)
    earned = earning.earn(merchant=merchant, member=member, config=config, event=facts, now=now)
    evaluation = earned.evaluation
    batch = WriteBatch()
    activity = Activity(
        merchant=merchant,
        member=member,
        external_id=data.external_id,
        kind=data.kind,
        custom_kind=custom_kind,
        occurred_at=occurred_at,
        data=data.data,
        request_hash=digest,
        points_earned=evaluation.points,
        explanation=evaluation.explanation(),
    )
    batch.insert(activity)
    entry = ledger.points_earn(
        member=member,
        member_locked=True,
        batch=batch,
        points=evaluation.points,
        at=now,
        available_at=now,
        expires_at=lot_expiry(config.program, now),
        source_type=LedgerEntry.Source.ACTIVITY,
        source_ref=data.external_id,
        activity=activity,
        reason=f"{kind} {data.external_id}",
        actor=actor,
    )
    earning.awards_record(
        evaluation=evaluation,
        member=member,
        entry=entry,
        at=occurred_at,
        batch=batch,
        activity=activity,
    )
    batch.execute()
    earning.on_exhausted(earned.exhausted)
    activity.achievement_outcomes = []
    if config.achievements:
        activity.achievement_outcomes = achievements.event_record(
            member=member,
            achievements=config.achievements,
            happening=Happening(
                trigger="activity", at=occurred_at, points=evaluation.points, kind=kind
            ),
            source=f"activity:{activity.pk}",
            label=f"{kind} {data.external_id}",
            segment_ids=earning.member_segment_ids(member),
            tz=merchant.timezone,
            program=config.program,
            now=now,
            actor=actor,
        )
    return activity
