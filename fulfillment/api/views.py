"""The redemption endpoints of the store API."""

import uuid

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.pagination import NewestFirstCursorPagination
from core.exceptions import DomainError, NotFound
from fulfillment import services
from fulfillment.api.serializers import (
    RedemptionInputSerializer,
    RedemptionListQuerySerializer,
    RedemptionSerializer,
)
from fulfillment.exceptions import (
    InvalidDenomination,
    InvalidRecipient,
    OutOfStock,
    RedemptionLimitReached,
    RewardNotAvailable,
)
from fulfillment.models import Redemption
from loyalty import selectors as loyalty_selectors
from loyalty.exceptions import (
    IdempotencyConflict,
    InsufficientPoints,
    MemberNotActive,
    NoActiveProgram,
)
from merchants.api.schema import EXAMPLE, INVALID_INPUT, problems
from merchants.api.views import MerchantAPIView

REPLAYED = {"Idempotent-Replayed": "true"}
REDEMPTION_ID = OpenApiParameter(
    "redemption_id",
    {"type": "string", "format": "uuid"},
    OpenApiParameter.PATH,
    description="The redemption's id.",
    examples=[OpenApiExample("A redemption", value=EXAMPLE["redemption"])],
)


def _with_events(queryset):
    return queryset.select_related(
        "member", "reward", "reissue_of", "reissued_as"
    ).prefetch_related("events", "codes", "shipments")


class RedemptionListView(MerchantAPIView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        summary="Redeem points for a reward",
        description="Checks the member can redeem it (catalog, country, stock, tier, "
        "limits), takes the points and queues the purchase; 409 `insufficient_points` when "
        "the balance is short. A reward the member cannot redeem is a 404. The same "
        "`external_id` again returns the first result (200, `Idempotent-Replayed: true`); "
        "with another body, 409 `idempotency_conflict`. Nothing is taken when it is refused.",
        request=RedemptionInputSerializer,
        responses={
            201: OpenApiResponse(RedemptionSerializer, description="Redeemed."),
            200: OpenApiResponse(RedemptionSerializer, description="A replay."),
            **problems(
                INVALID_INPUT,
                DomainError,
                InvalidDenomination,
                InvalidRecipient,
                NotFound,
                RewardNotAvailable,
                InsufficientPoints,
                RedemptionLimitReached,
                OutOfStock,
                MemberNotActive,
                NoActiveProgram,
                IdempotencyConflict,
            ),
        },
        tags=["redemptions"],
    )
    def post(self, request: Request) -> Response:
        serializer = RedemptionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        recorded = services.redemption_create(
            merchant=self.merchant,
            data=services.RedemptionInput(
                member_external_id=data["member"],
                reward_id=data["reward"],
                value=data["denomination"],
                quantity=data["quantity"],
                recipient=data["recipient"],
                external_id=data.get("external_id", ""),
            ),
        )
        redemption = _with_events(Redemption.objects.filter(pk=recorded.obj.pk)).get()
        body = RedemptionSerializer(redemption, context={"api_key": self.api_key}).data
        if recorded.replayed:
            return Response(body, status=status.HTTP_200_OK, headers=REPLAYED)
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="A member's redemptions, newest first",
        description="Each with its status, delivery and history, as "
        "`GET /redemptions/{redemption_id}/` gives it; by cursor, 50 a page.",
        parameters=[RedemptionListQuerySerializer],
        responses={200: RedemptionSerializer(many=True), **problems(INVALID_INPUT, NotFound)},
        tags=["redemptions"],
    )
    def get(self, request: Request) -> Response:
        query = RedemptionListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        member = loyalty_selectors.member_get(
            merchant=self.merchant, external_id=query.validated_data["member"], field="member"
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            _with_events(Redemption.objects.filter(merchant=self.merchant, member=member)),
            request,
            view=self,
        )
        return paginator.get_paginated_response(
            RedemptionSerializer(page, many=True, context={"api_key": self.api_key}).data
        )


class RedemptionDetailView(MerchantAPIView):
    @extend_schema(
        summary="A redemption: its status and history",
        description="What was bought, its status and delivery status, and every change "
        "of them; once delivered, `claim.url` (the member's claim page), and `claim.codes` "
        "for a key with the `codes` scope (each reading is recorded); `shipment` for a "
        "physical reward.",
        parameters=[REDEMPTION_ID],
        responses={200: RedemptionSerializer, **problems(NotFound)},
        tags=["redemptions"],
    )
    def get(self, request: Request, redemption_id: str) -> Response:
        try:
            public_id = uuid.UUID(redemption_id)
        except ValueError:
            raise NotFound("No such redemption.", field="id") from None
        redemption = _with_events(
            Redemption.objects.filter(merchant=self.merchant, public_id=public_id)
        ).first()
        if redemption is None:
            raise NotFound("No such redemption.", field="id")
        return Response(RedemptionSerializer(redemption, context={"api_key": self.api_key}).data)
