"""The redemption endpoints of the store API."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.pagination import NewestFirstCursorPagination
from core.exceptions import DomainError, NotFound
from fulfillment import selectors
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
from fulfillment.services import redemptions
from fulfillment.services.code_reveals import redemption_codes_reveal
from loyalty import selectors as loyalty_selectors
from loyalty.exceptions import (
    IdempotencyConflict,
    InsufficientPoints,
    MemberNotActive,
    NoActiveProgram,
)
from merchants.api.schema import EXAMPLE, INVALID_INPUT, problems
from merchants.api.views import MerchantAPIView
from merchants.models import Scope

REPLAYED = {"Idempotent-Replayed": "true"}
REDEMPTION_ID = OpenApiParameter(
    "redemption_id",
    {"type": "string", "format": "uuid"},
    OpenApiParameter.PATH,
    description="The redemption's id.",
    examples=[OpenApiExample("A redemption", value=EXAMPLE["redemption"])],
)


class _RedemptionView(MerchantAPIView):
    def render(self, redemption: Redemption) -> dict:
        """The redemption's body; its codes in clear for a key with the ``codes`` scope,
        read through the audited reveal (once, here, never while rendering)."""
        revealed = {}
        if self.api_key.has_scope(Scope.CODES):
            revealed[redemption.pk] = redemption_codes_reveal(
                redemption=redemption, api_key_prefix=self.api_key.prefix, actor=self.actor
            )
        return RedemptionSerializer(redemption, context={"revealed": revealed}).data


class RedemptionListView(_RedemptionView):
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
        recorded = redemptions.redemption_create(
            merchant=self.merchant,
            data=redemptions.RedemptionInput(
                member_external_id=data["member"],
                reward_id=data["reward"],
                value=data["denomination"],
                quantity=data["quantity"],
                recipient=data["recipient"],
                external_id=data.get("external_id", ""),
            ),
            actor=self.actor,
        )
        body = self.render(
            selectors.redemption_get_by_pk(merchant=self.merchant, pk=recorded.obj.pk)
        )
        if recorded.replayed:
            return Response(body, status=status.HTTP_200_OK, headers=REPLAYED)
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="A member's redemptions, newest first",
        description="Each with its status, delivery and history, as "
        "`GET /redemptions/{redemption_id}/` gives it except the codes in clear "
        "(`claim.codes` is null here: reading them is recorded, so it is done one redemption "
        "at a time, on its own page); by cursor, 50 a page.",
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
            selectors.redemption_list(merchant=self.merchant, member=member),
            request,
            view=self,
        )
        return paginator.get_paginated_response(RedemptionSerializer(page, many=True).data)


class RedemptionDetailView(_RedemptionView):
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
        redemption = selectors.redemption_get(merchant=self.merchant, public_id=redemption_id)
        return Response(self.render(redemption))
