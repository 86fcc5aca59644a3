"""The CRM's changes feed: ``GET /api/v1/members/changes/?since=<cursor>``, for a CRM that
polls instead of receiving webhooks."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty import selectors
from loyalty.api.serializers import MemberSerializer
from loyalty.exceptions import CursorExpired
from loyalty.models import Segment
from loyalty.segments.query import segment_ids_parse
from merchants.api.schema import INVALID_INPUT, problems
from merchants.api.views import MerchantAPIView

PAGE = 100
MAX_PAGE = 500


class ChangesQuerySerializer(serializers.Serializer):
    since = serializers.IntegerField(min_value=0, max_value=2**63 - 1, required=False, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, required=False, default=PAGE)


class SegmentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ChangedMemberSerializer(MemberSerializer):
    segments = SegmentRefSerializer(many=True, help_text="The segments the member is in now.")
    sequence = serializers.IntegerField(
        help_text="The sequence of the member's latest change served: larger is later."
    )

    class Meta(MemberSerializer.Meta):
        fields = [*MemberSerializer.Meta.fields, "segments", "sequence"]


class MemberChangesSerializer(serializers.Serializer):
    results = ChangedMemberSerializer(many=True)
    next = serializers.CharField(help_text="Pass it as `since` on the next call.")


class MemberChangesView(MerchantAPIView):
    @extend_schema(
        summary="Members changed since a cursor",
        description="Every member whose profile, balance, tier or segments changed after "
        "`since`, each once, as they are now, in the order of their latest change, at most "
        "`limit` a page (100 by default, 500 at most). Start with `since=0` (after a full "
        "export: the nightly members CSV), then pass the `next` of each answer; an answer "
        "with fewer results than `limit` has caught up, and `next` is where to resume. "
        "Changes are served once 30 seconds old, so that none committed late is skipped. "
        "Changes are kept for `WEBHOOK_EVENT_RETENTION_DAYS` (35 by default): a cursor "
        "older than that is refused with `410 cursor_expired`; start again from a full "
        "export with `since=0`.",
        parameters=[
            OpenApiParameter(
                "since",
                {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
                description="The cursor; 0 for the beginning.",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                description="At most this many members (1-500).",
            ),
        ],
        responses={200: MemberChangesSerializer, **problems(INVALID_INPUT, CursorExpired)},
        tags=["members"],
    )
    def get(self, request: Request) -> Response:
        # A plain dict, not the QueryDict: DRF reads an empty value of a form as "not
        # given", and `limit=` would quietly mean the default.
        query = ChangesQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        changes = selectors.members_changed(
            merchant=self.merchant,
            since=query.validated_data["since"],
            limit=query.validated_data["limit"],
            now=timezone.now(),
        )
        names = dict(Segment.objects.filter(merchant=self.merchant).values_list("id", "name"))
        for member in changes.members:
            member.segments = [
                {"id": pk, "name": names[pk]}
                for pk in sorted(segment_ids_parse(member.segment_list))
                if pk in names
            ]
            member.sequence = changes.sequences[member.pk]
        return Response(
            {
                "results": ChangedMemberSerializer(changes.members, many=True).data,
                "next": str(changes.next),
            }
        )
