"""The catalog endpoints of the store API: what a member can redeem, and at what price."""

from django.utils import translation
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from catalog import selectors
from catalog.api.serializers import (
    MemberRewardSerializer,
    RewardMemberQuerySerializer,
    RewardQuerySerializer,
)
from catalog.models import MerchantCatalogItem
from core.api.pagination import NumberedPagination
from core.exceptions import NotFound
from core.i18n import supported_language
from loyalty import selectors as loyalty_selectors
from loyalty.exceptions import NoActiveProgram
from loyalty.models import Member
from loyalty.program_config import program_config
from merchants.api.schema import EXAMPLE, INVALID_INPUT, problems
from merchants.api.views import MerchantAPIView

MAX_ID = 2**63 - 1
REWARD_ID = OpenApiParameter(
    "reward_id",
    {"type": "integer", "minimum": 1},
    OpenApiParameter.PATH,
    description="The reward's id, as the list gives it.",
    examples=[OpenApiExample("A reward", value=EXAMPLE["reward"])],
)


class _MemberRewardsView(MerchantAPIView):
    def _context(self, member_external_id: str) -> tuple[Member, object]:
        member = loyalty_selectors.member_get(
            merchant=self.merchant, external_id=member_external_id, field="member"
        )
        program = program_config(
            merchant_id=self.merchant.pk, version=self.merchant.config_version
        ).program
        return member, program

    def _render(self, items: list[MerchantCatalogItem], member: Member, program) -> list[dict]:
        rewards = selectors.member_rewards(items=items, member=member, program=program)
        with translation.override(supported_language(member.locale)):
            return MemberRewardSerializer(
                rewards, many=True, context={"request": self.request}
            ).data


class RewardListView(_MemberRewardsView):
    pagination_class = NumberedPagination

    @extend_schema(
        summary="The rewards a member can redeem",
        description="Only rewards in the merchant's catalog, active, redeemable in the "
        "member's country (the merchant's when the member has none), in stock there and "
        "open to the member's tier; each with its point prices and whether the member can "
        "afford it. Texts in the member's locale when translated. Ordered by lowest price, "
        "then id.",
        parameters=[RewardQuerySerializer],
        responses={
            200: MemberRewardSerializer(many=True),
            **problems(INVALID_INPUT, NotFound, NoActiveProgram),
        },
        tags=["rewards"],
    )
    def get(self, request: Request) -> Response:
        query = RewardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        member, program = self._context(data["member"])
        items = selectors.catalog_for_member(
            merchant=self.merchant,
            member=member,
            filters=selectors.RewardFilters(
                type=data.get("type"),
                category=data.get("category"),
                min_points=data.get("min_points"),
                max_points=data.get("max_points"),
            ),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(self._render(page, member, program))


class RewardDetailView(_MemberRewardsView):
    @extend_schema(
        summary="One reward as a member sees it",
        description="404 when the member cannot redeem it (not in the catalog, not in "
        "their country, out of stock, not for their tier, paused or retired).",
        parameters=[RewardMemberQuerySerializer, REWARD_ID],
        responses={
            200: MemberRewardSerializer,
            **problems(INVALID_INPUT, NotFound, NoActiveProgram),
        },
        tags=["rewards"],
    )
    def get(self, request: Request, reward_id: int) -> Response:
        query = RewardMemberQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        member, program = self._context(query.validated_data["member"])
        if reward_id > MAX_ID:
            raise NotFound("No such reward for this member.", field="reward")
        item = (
            selectors.catalog_for_member(merchant=self.merchant, member=member)
            .filter(reward_id=reward_id)
            .first()
        )
        if item is None:
            raise NotFound("No such reward for this member.", field="reward")
        return Response(self._render([item], member, program)[0])
