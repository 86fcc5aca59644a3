"""``GET /api/v1/members/{external_id}/achievements/``, and how an order's answer lists the
achievements it advanced."""

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import NotFound
from loyalty import selectors
from loyalty.achievements.selectors import AchievementStatus, member_achievement_list
from loyalty.api.outcomes import amount_text
from loyalty.api.views import MEMBER_ID
from loyalty.models import Achievement
from merchants.api.schema import problems
from merchants.api.views import MerchantAPIView


class WindowSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["overall", "rolling", "streak"])
    days = serializers.IntegerField(allow_null=True, help_text="A rolling window's days.")
    unit = serializers.ChoiceField(
        choices=["week", "month"], allow_null=True, help_text="A streak's periods."
    )


class ProgressSerializer(serializers.Serializer):
    current = serializers.CharField(help_text='How far the member is, e.g. "2" or "180.50".')
    goal = serializers.CharField()
    percent = serializers.IntegerField(help_text="0 to 100.")
    streak = serializers.IntegerField(
        allow_null=True, help_text="A streak: the periods filled in a row up to now."
    )
    deadline = serializers.DateTimeField(
        allow_null=True,
        help_text="A streak: when the current period ends (order by then to keep it); a "
        "rolling window: when its oldest counted occurrence drops out.",
    )


class CompletionSerializer(serializers.Serializer):
    completed_at = serializers.DateTimeField()
    period = serializers.CharField(help_text='"ever", or the first day of the period.')
    points = serializers.IntegerField()
    reason = serializers.CharField()


class StreakResetSerializer(serializers.Serializer):
    length = serializers.IntegerField(help_text="The periods in a row it had reached.")
    broken_period = serializers.DateField(help_text="The first period left without an order.")
    recorded_at = serializers.DateTimeField()


class MemberAchievementSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="achievement.pk")
    name = serializers.CharField(source="achievement.name")
    description = serializers.CharField(source="achievement.description")
    badge_url = serializers.SerializerMethodField()
    trigger = serializers.CharField(source="achievement.trigger")
    measure = serializers.CharField(source="achievement.measure")
    window = serializers.SerializerMethodField()
    repeat = serializers.CharField(source="achievement.repeat")
    reward_points = serializers.IntegerField(source="achievement.reward_points")
    progress = serializers.SerializerMethodField()
    completed = serializers.BooleanField(
        source="done_for_now",
        help_text="Completed for good (once ever) or for the current period.",
    )
    available = serializers.BooleanField(
        source="open_now", help_text="Whether it can be worked on now (its dates, switched on)."
    )
    completions = CompletionSerializer(many=True)
    last_streak_reset = StreakResetSerializer(source="last_reset", allow_null=True)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_badge_url(self, status: AchievementStatus) -> str | None:
        return badge_url(status.achievement, self.context.get("request"))

    @extend_schema_field(WindowSerializer)
    def get_window(self, status: AchievementStatus) -> dict:
        window = status.terms.window
        return {
            "kind": str(window.kind),
            "days": window.days,
            "unit": str(window.unit) if window.unit else None,
        }

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, status: AchievementStatus) -> dict:
        progress = status.progress
        current = min(progress.current, progress.goal)
        return {
            "current": amount_text(current),
            "goal": amount_text(progress.goal),
            "percent": int(current * 100 / progress.goal) if progress.goal else 0,
            "streak": progress.streak,
            "deadline": (
                serializers.DateTimeField().to_representation(progress.deadline)
                if progress.deadline
                else None
            ),
        }


class MemberAchievementListSerializer(serializers.Serializer):
    results = MemberAchievementSerializer(many=True)


def badge_url(achievement: Achievement, request: Request | None) -> str | None:
    if not achievement.badge_version:
        return None
    path = reverse("achievement-badge", args=[achievement.pk, achievement.badge_version])
    return request.build_absolute_uri(path) if request is not None else path


class MemberAchievementsView(MerchantAPIView):
    @extend_schema(
        summary="A member's achievements and their progress",
        description="Each active achievement of the program (and any the member completed "
        "before it was switched off): the progress now against the goal, the window, a "
        "streak's length and the deadline of its current period, the completions with "
        "their dates and points, and the badge.",
        parameters=[MEMBER_ID],
        responses={200: MemberAchievementListSerializer, **problems(NotFound)},
        tags=["members"],
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = selectors.member_get(merchant=self.merchant, external_id=external_id)
        statuses = member_achievement_list(
            merchant=self.merchant, member=member, now=timezone.now()
        )
        return Response(
            MemberAchievementListSerializer(
                {"results": statuses}, context={"request": request}
            ).data
        )
