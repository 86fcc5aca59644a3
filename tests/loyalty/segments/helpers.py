"""Builders for segment tests: a definition from conditions, who it matches now."""

import datetime

from django.utils import timezone

from core.actors import SYSTEM
from loyalty.models import Segment
from loyalty.segments import services
from merchants.models import Merchant


def where(*groups: list[dict] | dict) -> dict:
    """A definition: each argument a group (a condition or a list of them, OR'ed)."""
    return {
        "version": 1,
        "groups": [{"conditions": g if isinstance(g, list) else [g]} for g in groups],
    }


def matching(
    merchant: Merchant, definition: dict, now: datetime.datetime | None = None
) -> set[str]:
    """The external ids of the members ``definition`` matches at ``now``."""
    parsed = services.definition_parse(merchant=merchant, data=definition)
    members = services.definition_members(
        merchant=merchant, definition=parsed, now=now or timezone.now()
    )
    return set(members.values_list("external_id", flat=True))


def segment_make(merchant: Merchant, definition: dict, name: str = "S", **fields) -> Segment:
    return services.segment_save(
        segment=Segment(merchant=merchant, name=name, definition=definition, **fields),
        actor=SYSTEM,
    )


def current(segment: Segment) -> set[str]:
    return set(
        segment.memberships.filter(left_at__isnull=True).values_list(
            "member__external_id", flat=True
        )
    )
