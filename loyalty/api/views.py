"""The loyalty endpoints of the store API. Each view parses, calls one service, renders."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.pagination import NewestFirstCursorPagination
from core.exceptions import DomainError, NotFound
from loyalty import selectors
from loyalty.api.fastpath import order_input_read, represented
from loyalty.api.serializers import (
    ActivityInputSerializer,
    ActivitySerializer,
    AdjustmentSerializer,
    LedgerEntrySerializer,
    MemberCouponListSerializer,
    MemberSegmentListSerializer,
    MemberSerializer,
    MemberUpsertSerializer,
    OrderInputSerializer,
    OrderSerializer,
    RefundInputSerializer,
    RefundSerializer,
    SimulateInputSerializer,
    SimulationSerializer,
    validated,
)
from loyalty.exceptions import (
    ExchangeRateMissing,
    IdempotencyConflict,
    InsufficientPoints,
    InvalidAdjustment,
    MemberNotActive,
    NoActiveProgram,
    ReferralCodeUnknown,
    ReferralRefused,
    RefundExceedsOrder,
)
from loyalty.external_ids import EXTERNAL_ID_PATTERN
from loyalty.recording import Recorded
from loyalty.referrals.services import Address, ReferralInput
from loyalty.services import activities, members, orders, refunds, simulator
from merchants.api.schema import EXAMPLE, INVALID_INPUT, problems
from merchants.api.views import MerchantAPIView
from merchants.models import Scope

REPLAYED = {"Idempotent-Replayed": "true"}


def external_id_parameter(what: str, example: str) -> OpenApiParameter:
    return OpenApiParameter(
        "external_id",
        {"type": "string", "pattern": EXTERNAL_ID_PATTERN, "maxLength": 128},
        OpenApiParameter.PATH,
        description=f"The {what}'s external_id (the store's own id for it).",
        examples=[OpenApiExample(what.capitalize(), value=example)],
    )


MEMBER_ID = external_id_parameter("member", EXAMPLE["member"])
ORDER_ID = external_id_parameter("order", EXAMPLE["order"])
# What a recorded order, refund or activity can be refused for besides invalid input.
RECORDING = (IdempotencyConflict, MemberNotActive, NoActiveProgram)


def _recorded(recorded: Recorded, serializer_class) -> Response:
    body = represented(serializer_class, recorded.obj)
    if recorded.replayed:
        return Response(body, status=status.HTTP_200_OK, headers=REPLAYED)
    return Response(body, status=status.HTTP_201_CREATED)


REFERRAL_KEYS = ("referral_code", "referral")
# What a referral sent with a member or an order can be refused for.
REFERRAL_PROBLEMS = (ReferralCodeUnknown, ReferralRefused)


def _member_fields(data: dict) -> dict:
    return {
        name: value
        for name, value in data.items()
        if name != "external_id" and name not in REFERRAL_KEYS
    }


def referral_input(data: dict) -> ReferralInput | None:
    """The referral a member's or an order's body carries, if any."""
    if not any(key in data for key in REFERRAL_KEYS):
        return None
    details = data.get("referral") or {}
    address = details.get("address")
    return ReferralInput(
        code=data.get("referral_code") or "",
        client_ip=details.get("client_ip") or None,
        device_id=details.get("device_id") or "",
        address=Address(
            lines=tuple(address["lines"]),
            postal_code=address.get("postal_code") or "",
            country=address.get("country") or "",
        )
        if address
        else None,
    )


class MemberListView(MerchantAPIView):
    @extend_schema(
        summary="Create or update a member",
        description="Creates the member with this `external_id`, or updates the profile "
        "fields given (the others stay as they are): 201 when created, 200 when updated. "
        "An anonymised member cannot be updated (409 `member_not_active`). With a "
        "`referral_code`, the member is attached to the member who referred them, once "
        "(the referral's fraud checks run then); `referral` carries what the store saw of "
        "the customer (IP, device, address), kept for the checks of the referrals they "
        "make.",
        request=MemberUpsertSerializer,
        responses={
            201: OpenApiResponse(MemberSerializer, description="Created."),
            200: OpenApiResponse(MemberSerializer, description="Updated."),
            **problems(INVALID_INPUT, MemberNotActive, *REFERRAL_PROBLEMS),
        },
        tags=["members"],
        examples=[
            OpenApiExample(
                "A new member",
                value={
                    "external_id": "cust-1001",
                    "email": "ana@example.com",
                    "first_name": "Ana",
                    "country": "US",
                    "marketing_consent": True,
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = MemberUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member, created = members.member_upsert(
            merchant=self.merchant,
            external_id=serializer.validated_data["external_id"],
            fields=_member_fields(serializer.validated_data),
            referral=referral_input(serializer.validated_data),
            actor=self.actor,
        )
        member = selectors.member_get(merchant=self.merchant, external_id=member.external_id)
        return Response(
            MemberSerializer(member).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MemberDetailView(MerchantAPIView):
    @extend_schema(
        summary="A member's profile and balances",
        description="The profile, the tier, and the three balances: `points_balance` "
        "(spendable now), `pending_points` (earned, waiting out the return window) and "
        "`lifetime_points`.",
        parameters=[MEMBER_ID],
        responses={200: MemberSerializer, **problems(NotFound)},
        tags=["members"],
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = selectors.member_get(merchant=self.merchant, external_id=external_id)
        return Response(MemberSerializer(member).data)


class MemberLedgerView(MerchantAPIView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        summary="A member's ledger, newest first",
        description="Every change of the member's points, one entry each (earn, release, "
        "redeem, reverse, expire, adjust, refund), with the balances after it; by cursor, "
        "50 a page.",
        parameters=[MEMBER_ID],
        responses={200: LedgerEntrySerializer(many=True), **problems(NotFound)},
        tags=["members"],
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = selectors.member_get(merchant=self.merchant, external_id=external_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.ledger_entry_list(merchant=self.merchant, member=member), request, view=self
        )
        return paginator.get_paginated_response(LedgerEntrySerializer(page, many=True).data)


class MemberSegmentsView(MerchantAPIView):
    @extend_schema(
        summary="The segments a member is in",
        description="The merchant's active segments the member is in now, as of their last "
        "refresh, with when the member joined each; the segment with the most recent join "
        "first.",
        parameters=[MEMBER_ID],
        responses={200: MemberSegmentListSerializer, **problems(NotFound)},
        tags=["members"],
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = selectors.member_get(merchant=self.merchant, external_id=external_id)
        stays = selectors.member_segment_list(merchant=self.merchant, member=member)
        return Response(MemberSegmentListSerializer({"results": stays}).data)


class MemberCouponsView(MerchantAPIView):
    @extend_schema(
        summary="The coupon codes a member was handed",
        description="Codes from campaigns' pools handed to the member (one per campaign, on "
        "a qualifying order), newest first.",
        parameters=[MEMBER_ID],
        responses={200: MemberCouponListSerializer, **problems(NotFound)},
        tags=["members"],
    )
    def get(self, request: Request, external_id: str) -> Response:
        member = selectors.member_get(merchant=self.merchant, external_id=external_id)
        coupons = selectors.member_coupon_list(member=member)
        return Response(MemberCouponListSerializer({"results": coupons}).data)


class MemberAdjustmentView(MerchantAPIView):
    required_scope = Scope.ADJUST

    @extend_schema(
        summary="Adjust a member's points (needs the adjust scope)",
        description="A correction with a reason, recorded with the key that made it: "
        "positive points credit the member (a new lot), negative ones take spendable points "
        "(409 `insufficient_points` beyond the balance).",
        parameters=[MEMBER_ID],
        request=AdjustmentSerializer,
        responses={
            201: LedgerEntrySerializer,
            **problems(
                INVALID_INPUT, InvalidAdjustment, NotFound, InsufficientPoints, NoActiveProgram
            ),
        },
        tags=["members"],
    )
    def post(self, request: Request, external_id: str) -> Response:
        serializer = AdjustmentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = selectors.member_get(merchant=self.merchant, external_id=external_id)
        entry = members.member_adjust_points(
            merchant=self.merchant,
            member=member,
            points=serializer.validated_data["points"],
            reason=serializer.validated_data["reason"],
            actor=self.actor,
        )
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


def _order_input(view: MerchantAPIView, data: dict, external_id: str) -> orders.OrderInput:
    store = data.get("store") or (view.api_key.store.public_id if view.api_key.store_id else None)
    return orders.OrderInput(
        external_id=external_id,
        member_external_id=data["member"]["external_id"],
        member_fields=_member_fields(data["member"]),
        total=data["total"],
        currency=data["currency"],
        placed_at=data["placed_at"],
        store_public_id=str(store) if store else None,
        lines=tuple(orders.LineInput(**line) for line in data.get("lines", [])),
        referral=referral_input(data),
    )


def simulation_body(simulation: simulator.Simulation, external_id: str) -> dict:
    """The simulator's answer, for the API and the admin page alike."""
    evaluation = simulation.evaluation
    return {
        "member": {
            "external_id": external_id,
            "exists": simulation.member is not None,
            "tier": simulation.tier.name if simulation.tier else None,
            "segments": sorted(simulation.segment_ids),
        },
        "program_currency": simulation.program.currency,
        "program_total": f"{simulation.program_total.normalize():f}",
        "points": evaluation.points,
        "rules": evaluation.explanation(),
        "not_applied": [
            {"kind": skip.kind, "id": skip.id, "name": skip.name, "reason": skip.reason}
            for skip in evaluation.skipped
        ],
        "evaluated_at": simulation.at,
    }


class OrderSimulateView(MerchantAPIView):
    @extend_schema(
        summary="Simulate what an order would earn",
        description="Takes an order's body (`external_id` may be left out) and answers what "
        "it would earn now: every rule, tier multiplier and campaign that would apply, and "
        "why the others would not (outside their dates, cap reached, not in the segment, "
        "budget spent, control group). Writes nothing. An unknown member is hypothetical: "
        "new, with the tier and segments given in `assume` (or none).",
        request=SimulateInputSerializer,
        responses={
            200: OpenApiResponse(SimulationSerializer, description="What it would earn."),
            **problems(INVALID_INPUT, DomainError, MemberNotActive, NoActiveProgram),
            **problems(ExchangeRateMissing),
        },
        tags=["orders"],
        examples=[
            OpenApiExample(
                "A hypothetical Gold member",
                value={
                    "member": "prospect-1",
                    "total": "120.00",
                    "currency": "USD",
                    "placed_at": "2026-11-20T14:03:00Z",
                    "lines": [
                        {
                            "sku": "TENT-2P",
                            "category": "camping",
                            "quantity": 1,
                            "unit_price": "120.00",
                        }
                    ],
                    "assume": {"tier": "Gold", "segments": [12]},
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = SimulateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        assume = data.get("assume")
        simulation = simulator.order_simulate(
            merchant=self.merchant,
            data=_order_input(self, data, data.get("external_id", "")),
            assumed=simulator.Assumed(
                tier_name=assume["tier"] or None, segment_ids=tuple(assume["segments"])
            )
            if assume is not None
            else None,
        )
        body = simulation_body(simulation, data["member"]["external_id"])
        return Response(SimulationSerializer(body).data)


class OrderListView(MerchantAPIView):
    @extend_schema(
        summary="Record an order",
        description="Earns points by the program's base rate and rules; they stay pending "
        "for the program's return window. Posting the same order again returns the first "
        "result (200, `Idempotent-Replayed: true`) and earns nothing more; the same "
        "external_id with a different body is a 409 `idempotency_conflict`. A "
        "`referral_code` attaches the order's member to the member who referred them, "
        "once; this order is then their first when it is large enough (an unknown code "
        "refuses the order, 400 `referral_code_unknown`, and records nothing).",
        request=OrderInputSerializer,
        responses={
            201: OpenApiResponse(OrderSerializer, description="Recorded."),
            200: OpenApiResponse(OrderSerializer, description="A replay of the first result."),
            **problems(
                INVALID_INPUT, DomainError, *RECORDING, ExchangeRateMissing, *REFERRAL_PROBLEMS
            ),
        },
        tags=["orders"],
        examples=[
            OpenApiExample(
                "An order with lines",
                value={
                    "external_id": "order-5001",
                    "member": {"external_id": "cust-1001", "email": "ana@example.com"},
                    "total": "120.00",
                    "currency": "USD",
                    "placed_at": "2026-11-20T14:03:00Z",
                    "lines": [
                        {
                            "sku": "TENT-2P",
                            "category": "camping",
                            "quantity": 1,
                            "unit_price": "100.00",
                        },
                        {"sku": "MUG", "category": "kitchen", "quantity": 2, "unit_price": "10.00"},
                    ],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = order_input_read(request.data) or validated(OrderInputSerializer, request.data)
        recorded = orders.order_record(
            merchant=self.merchant,
            data=_order_input(self, data, data["external_id"]),
            actor=self.actor,
        )
        return _recorded(recorded, OrderSerializer)


class OrderRefundView(MerchantAPIView):
    @extend_schema(
        summary="Record a full or partial refund of an order",
        description="Takes back, in proportion, the points the order earned: pending points "
        "first, then the balance, which never goes below zero (what was already spent is "
        "reported as `shortfall`). The same `external_id` with the same body answers the "
        "first result again (200, `Idempotent-Replayed: true`); with another body, 409 "
        "`idempotency_conflict`.",
        parameters=[ORDER_ID],
        request=RefundInputSerializer,
        responses={
            201: OpenApiResponse(RefundSerializer, description="Recorded."),
            200: OpenApiResponse(RefundSerializer, description="A replay of the first result."),
            **problems(
                INVALID_INPUT, DomainError, NotFound, IdempotencyConflict, RefundExceedsOrder
            ),
        },
        tags=["orders"],
    )
    def post(self, request: Request, external_id: str) -> Response:
        serializer = RefundInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        recorded = refunds.refund_record(
            merchant=self.merchant,
            order_external_id=external_id,
            data=refunds.RefundInput(**serializer.validated_data),
            actor=self.actor,
        )
        return _recorded(recorded, RefundSerializer)


class ActivityListView(MerchantAPIView):
    @extend_schema(
        summary="Record a non-purchase activity",
        description="A sign-up, review, social follow, birthday, referral or custom action "
        "of the member's, with the points the program's rules give for it. The same "
        "`external_id` with the same body answers the first result again (200, "
        "`Idempotent-Replayed: true`); with another body, 409 `idempotency_conflict`. "
        "A new member is created only from a `member` object; an unknown member named by "
        "its `external_id` alone is a 404 on `member`.",
        request=ActivityInputSerializer,
        responses={
            201: OpenApiResponse(ActivitySerializer, description="Recorded."),
            200: OpenApiResponse(ActivitySerializer, description="A replay of the first result."),
            **problems(INVALID_INPUT, DomainError, NotFound, *RECORDING),
        },
        tags=["activities"],
        examples=[
            OpenApiExample(
                "A product review",
                value={"external_id": "review-77", "member": "cust-1001", "kind": "review"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = ActivityInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # A member object may create the member; a bare external_id names one that exists.
        member_sent_as_object = isinstance(request.data.get("member"), dict)
        recorded = activities.activity_record(
            merchant=self.merchant,
            data=activities.ActivityInput(
                external_id=data["external_id"],
                member_external_id=data["member"]["external_id"],
                member_fields=_member_fields(data["member"]) if member_sent_as_object else None,
                kind=data["kind"],
                custom_kind=data["custom_kind"],
                occurred_at=data.get("occurred_at"),
                data=data["data"],
            ),
            actor=self.actor,
        )
        return _recorded(recorded, ActivitySerializer)
