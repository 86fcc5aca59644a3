"""How an order's or activity's answer lists the achievements it counted toward."""

from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from loyalty.achievements.selectors import source_outcomes
from loyalty.achievements.services import Outcome


def amount_text(value) -> str:
    """A goal or a count as people write it: 3, 500, 12.5."""
    return f"{Decimal(value).normalize():f}"


class OutcomeSerializer(serializers.Serializer):
    """What one order or activity did to one achievement."""

    id = serializers.IntegerField(source="achievement_id")
    name = serializers.CharField()
    current = serializers.SerializerMethodField(help_text='Progress after it, e.g. "2".')
    goal = serializers.SerializerMethodField()
    completed = serializers.BooleanField(help_text="Whether this event completed it.")
    points = serializers.IntegerField(help_text="Points its completion gave (0 if none).")

    def get_current(self, outcome: Outcome) -> str:
        return amount_text(min(outcome.current, outcome.goal))

    def get_goal(self, outcome: Outcome) -> str:
        return amount_text(outcome.goal)


def outcomes_represented(recorded, source: str) -> list[dict]:
    """The achievements an order or activity counted toward: those its recording
    attached, else read back."""
    outcomes = getattr(recorded, "achievement_outcomes", None)
    if outcomes is None:
        outcomes = source_outcomes(recorded=recorded, source=source, now=timezone.now())
    return OutcomeSerializer(outcomes, many=True).data
