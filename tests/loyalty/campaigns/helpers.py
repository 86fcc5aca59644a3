"""Builders for campaign tests: a campaign through the services, started at once."""

import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from core.actors import SYSTEM
from loyalty.campaigns import services
from loyalty.models import Campaign, CampaignSpend, Program, Segment, SegmentMembership


def campaign_make(
    program: Program,
    *,
    name: str = "C",
    effect: str = "multiplier",
    status: str = "running",
    segments: list[Segment] | None = None,
    starts_at: datetime.datetime | None = None,
    ends_at: datetime.datetime | None = None,
    **terms: Any,
) -> Campaign:
    """A campaign of ``program`` (x2 on every order by default), moved to ``status``."""
    now = timezone.now()
    if effect == "multiplier":
        terms.setdefault("multiplier", Decimal(2))
    campaign = services.campaign_save(
        campaign=Campaign(
            program=program,
            name=name,
            effect=effect,
            starts_at=starts_at or now - datetime.timedelta(days=1),
            ends_at=ends_at or now + datetime.timedelta(days=30),
            **terms,
        ),
        actor=SYSTEM,
        segments=segments,
    )
    path = {
        "draft": [],
        "scheduled": ["scheduled"],
        "running": ["scheduled", "running"],
        "paused": ["scheduled", "running", "paused"],
        "ended": ["ended"],
    }[status]
    for step in path:
        services.campaign_transition(campaign=campaign, to_status=step, reason="test", actor=SYSTEM)
    return campaign


def spent(campaign: Campaign) -> int:
    return CampaignSpend.objects.get(campaign=campaign).points_given


def segment_with(merchant, *members, name: str = "Picked") -> Segment:
    """A segment whose current stays are exactly ``members`` (written as a refresh would)."""
    segment = Segment.objects.create(
        merchant=merchant,
        name=name,
        definition={
            "version": 1,
            "groups": [{"conditions": [{"field": "country", "op": "is", "value": "US"}]}],
        },
    )
    now = timezone.now()
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, member=member, joined_at=now) for member in members
    )
    return segment
