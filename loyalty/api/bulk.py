"""Bulk endpoints: up to 1,000 orders or members a call, each answered on its own.

The envelope (``{"orders": [...]}``, ``{"members": [...]}``) is checked first: a body
that is not one, or holds more than 1,000 items, is a 400 and nothing is recorded. Then
each item is parsed and recorded on its own: ``{"results": [...]}`` answers in the
items' order, each with its ``index``, its ``status`` (``created``, ``updated``,
``replayed`` or ``error``) and its record or its ``problem`` (the problem document a
single call would have answered).
"""

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import VALIDATION_CODE, problem_document
from core.exceptions import DomainError
from loyalty import order_batches, selectors
from loyalty.api.fastpath import order_input_read, represented
from loyalty.api.serializers import (
    MemberSerializer,
    MemberUpsertSerializer,
    OrderInputSerializer,
    OrderSerializer,
    parsed,
)
from loyalty.api.views import REFERRAL_KEYS, _member_fields, _order_input, referral_input
from loyalty.exceptions import MemberNotActive
from loyalty.services import members
from merchants.api.schema import INVALID_INPUT, ProblemSerializer, problems
from merchants.api.views import MerchantAPIView

MAX_ITEMS = order_batches.MAX_ORDERS


class ItemInvalid(DomainError):
    """An item of a bulk call that does not parse: its serializer's errors, flattened."""

    code = VALIDATION_CODE
    status = 400
    title = "Invalid input."

    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = errors
        detail = "; ".join(
            f"{e['attr']}: {e['detail']}" if e["attr"] else e["detail"] for e in errors
        )
        super().__init__(detail)


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, Any]]:
    if isinstance(detail, dict):
        return [
            error
            for name, value in detail.items()
            for error in _flatten(
                value,
                prefix if name == "non_field_errors" else f"{prefix}{'.' if prefix else ''}{name}",
            )
        ]
    if isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            return [
                {"code": item.code, "detail": str(item), "attr": prefix or None} for item in detail
            ]
        return [
            error
            for number, item in enumerate(detail)
            for error in _flatten(item, f"{prefix}.{number}" if prefix else str(number))
        ]
    return [
        {"code": getattr(detail, "code", "invalid"), "detail": str(detail), "attr": prefix or None}
    ]


def item_problem(error: DomainError) -> dict[str, Any]:
    errors = getattr(error, "errors", None) or [
        {"code": error.code, "detail": error.detail, "attr": error.field}
    ]
    return problem_document(
        status=error.status, code=error.code, title=error.title, detail=error.detail, errors=errors
    )


def _parse(serializer_class: type[serializers.Serializer], item: Any) -> dict | ItemInvalid:
    data, errors = parsed(serializer_class, item)
    return ItemInvalid(_flatten(errors)) if errors else data


def _items(request: Request, key: str) -> list[Any]:
    body = request.data
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise exceptions.ValidationError({key: [f"Give a list of {key}."]})
    items = body[key]
    if not items:
        raise exceptions.ValidationError({key: ["Give one at least."]})
    if len(items) > MAX_ITEMS:
        raise exceptions.ValidationError({key: [f"At most {MAX_ITEMS} a call."]})
    for number, item in enumerate(items):
        if not isinstance(item, dict):
            raise exceptions.ValidationError({f"{key}.{number}": ["Each item is an object."]})
    return items


def _order_item(item: Any) -> dict | DomainError:
    """An order item parsed; one with a referral is refused (a referral is attached by
    ``POST /api/v1/orders/``, one order at a time)."""
    if isinstance(item, dict) and any(key in item for key in REFERRAL_KEYS):
        return ItemInvalid(
            [
                {
                    "code": "invalid",
                    "detail": "Send an order with a referral to POST /api/v1/orders/.",
                    "attr": "referral_code",
                }
            ]
        )
    return order_input_read(item) or _parse(OrderInputSerializer, item)


def _result(index: int, status: str, **fields: Any) -> dict[str, Any]:
    return {"index": index, "status": status, **fields}


# -- the schema -----------------------------------------------------------------------------


def _envelope(key: str, item: str) -> type[serializers.Serializer]:
    """The request schema of a bulk call: the items are objects, each checked on its own
    (as the single call checks it) and answered in ``results``, so the schema states the
    envelope only: a request the schema refuses is refused whole."""
    field = serializers.ListField(
        child=serializers.DictField(help_text=item),
        min_length=1,
        max_length=MAX_ITEMS,
        help_text=f"1 to {MAX_ITEMS}: {item}",
    )
    return type(f"{key.title()}BulkInputSerializer", (serializers.Serializer,), {key: field})


class OrderBulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's place in `orders`, from 0.")
    status = serializers.ChoiceField(choices=["created", "replayed", "error"])
    order = OrderSerializer(required=False, help_text="Unless `status` is `error`.")
    problem = ProblemSerializer(required=False, help_text="When `status` is `error`.")


class OrderBulkSerializer(serializers.Serializer):
    results = OrderBulkResultSerializer(many=True)


class MemberBulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's place in `members`, from 0.")
    status = serializers.ChoiceField(choices=["created", "updated", "error"])
    member = MemberSerializer(required=False, help_text="Unless `status` is `error`.")
    problem = ProblemSerializer(required=False, help_text="When `status` is `error`.")


class MemberBulkSerializer(serializers.Serializer):
    results = MemberBulkResultSerializer(many=True)


# -- the views ------------------------------------------------------------------------------


class OrderBulkView(MerchantAPIView):
    @extend_schema(
        summary="Record up to 1,000 orders",
        description="Each order as `POST /api/v1/orders/` takes it, each idempotent by its "
        "`external_id` (an order recorded before, or given twice in the call, is "
        "`replayed`; with a different body, an `error` with `idempotency_conflict`). The "
        "answer lists every item in order, with its `status` and its order or its "
        "`problem`; one item's problem never stops the others. Written set-based: a call "
        "of 1,000 orders takes a few statements, not thousands. An order with a "
        "`referral_code` goes to `POST /api/v1/orders/` on its own (here, an `error`).",
        request=_envelope(
            "orders",
            "An order as `POST /api/v1/orders/` takes it (`OrderInputRequest`).",
        ),
        responses={
            200: OpenApiResponse(OrderBulkSerializer, description="Each item's answer."),
            **problems(INVALID_INPUT),
        },
        tags=["orders"],
        examples=[
            OpenApiExample(
                "Two orders",
                value={
                    "orders": [
                        {
                            "external_id": "order-7001",
                            "member": "cust-1001",
                            "total": "42.00",
                            "currency": "USD",
                            "placed_at": "2026-11-20T14:03:00Z",
                        },
                        {
                            "external_id": "order-7002",
                            "member": {"external_id": "cust-2002", "email": "li@example.com"},
                            "total": "18.50",
                            "currency": "USD",
                            "placed_at": "2026-11-21T09:12:00Z",
                        },
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        parsed = [_order_item(item) for item in _items(request, "orders")]
        inputs = [
            item if isinstance(item, DomainError) else _order_input(self, item, item["external_id"])
            for item in parsed
        ]
        answers = order_batches.orders_record_bulk(
            merchant=self.merchant, items=inputs, actor=self.actor
        )
        results = []
        for index, answer in enumerate(answers):
            if answer.order is not None:
                results.append(
                    _result(index, answer.status, order=represented(OrderSerializer, answer.order))
                )
            else:
                results.append(_result(index, "error", problem=item_problem(answer.error)))
        return Response({"results": results})


class MemberBulkView(MerchantAPIView):
    @extend_schema(
        summary="Create or update up to 1,000 members",
        description="Each member as `POST /api/v1/members/` takes it: an upsert by "
        "`external_id` of the fields given, attributes checked against the merchant's "
        "attribute schema. The answer lists every item in order: `created`, `updated`, or "
        "`error` with its `problem`. Sending the same call again changes nothing more.",
        request=_envelope(
            "members",
            "A member as `POST /api/v1/members/` takes it (`MemberUpsertRequest`).",
        ),
        responses={
            200: OpenApiResponse(MemberBulkSerializer, description="Each item's answer."),
            **problems(INVALID_INPUT),
        },
        tags=["members"],
    )
    def post(self, request: Request) -> Response:
        results = []
        for index, item in enumerate(_items(request, "members")):
            parsed = _parse(MemberUpsertSerializer, item)
            if isinstance(parsed, DomainError):
                results.append(_result(index, "error", problem=item_problem(parsed)))
                continue
            try:
                member, created = members.member_upsert(
                    merchant=self.merchant,
                    external_id=parsed["external_id"],
                    fields=_member_fields(parsed),
                    referral=referral_input(parsed),
                    actor=self.actor,
                )
            except (DomainError, MemberNotActive) as error:
                results.append(_result(index, "error", problem=item_problem(error)))
                continue
            except ValidationError as error:
                invalid = ItemInvalid(
                    [
                        {"code": "invalid", "detail": " ".join(messages), "attr": name}
                        for name, messages in error.message_dict.items()
                    ]
                )
                results.append(_result(index, "error", problem=item_problem(invalid)))
                continue
            results.append(
                _result(
                    index,
                    "created" if created else "updated",
                    member=MemberSerializer(
                        selectors.member_get(merchant=self.merchant, external_id=member.external_id)
                    ).data,
                )
            )
        return Response({"results": results})
