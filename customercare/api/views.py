"""The care endpoints of the store API: a member's tickets, their public thread, files
and rating, and the merchant's help texts. Every ticket is looked up through the key's
merchant (another merchant's is a 404), and only public messages are ever loaded."""

import re
import uuid

from django.conf import settings
from django.http import FileResponse
from django.utils import translation
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.pagination import NewestFirstCursorPagination
from core.api.parsers import JSONParser
from core.exceptions import InvalidTransition, NotFound
from customercare import help as help_pages
from customercare import selectors, services
from customercare.api.serializers import (
    CSATInputSerializer,
    CSATSerializer,
    FAQSerializer,
    LocaleQuerySerializer,
    MessageFormSerializer,
    MessageInputSerializer,
    MessageSerializer,
    TermsSerializer,
    TicketFormSerializer,
    TicketInputSerializer,
    TicketListQuerySerializer,
    TicketSerializer,
)
from customercare.attachments import SIGNATURES, attachment_download
from customercare.exceptions import (
    AttachmentRefused,
    CSATAlreadyGiven,
    InvalidTicketInput,
    TicketClosed,
    TicketNotFound,
)
from customercare.models import Ticket, TicketChannel
from fulfillment import selectors as fulfillment_selectors
from fulfillment.models import Redemption
from loyalty import selectors as loyalty_selectors
from merchants.api.schema import EXAMPLE, INVALID_INPUT, problems
from merchants.api.views import MerchantAPIView
from merchants.models import Merchant

REFERENCE_FORM = re.compile(r"[A-Za-z0-9-]{1,16}")
TICKET_EXAMPLE = {
    "reference": "T-7K2M9QX4D1HB",
    "member": "cust-1001",
    "status": "new",
    "category": "missing_points",
    "subject": "Points for order W-1042 missing",
    "order": "W-1042",
    "redemption": None,
    "merged_into": None,
    "created_at": "2025-03-01T10:15:00Z",
    "updated_at": "2025-03-01T10:15:00Z",
    "resolved_at": None,
    "messages": [
        {
            "id": 81,
            "author": "member",
            "body": "I ordered shoes last week and got no points.",
            "created_at": "2025-03-01T10:15:00Z",
            "attachments": [
                {
                    "id": 12,
                    "filename": "receipt.pdf",
                    "content_type": "application/pdf",
                    "size": 48211,
                    "url": "https://loyalty.example.com/api/v1/tickets/T-7K2M9QX4D1HB/"
                    "attachments/12/",
                }
            ],
        }
    ],
    "csat": None,
    "csat_open": False,
}


# The types a download can have: those recognised by their bytes, and plain text.
DOWNLOAD_TYPES = (*dict.fromkeys(kind for _, kind, _ in SIGNATURES), "text/plain")


class _CareAPIView(MerchantAPIView):
    # A message may carry files: JSON, or multipart with the files under ``attachments``.
    parser_classes = [JSONParser, parsers.MultiPartParser, parsers.FormParser]

    def ticket(self, reference: str) -> Ticket:
        # What the path holds is checked before the database sees it (a NUL byte is an
        # error there, not a miss).
        if not REFERENCE_FORM.fullmatch(reference):
            raise TicketNotFound()
        return selectors.ticket_get(merchant=self.merchant, reference=reference)

    def render_ticket(self, ticket: Ticket, status_code: int = status.HTTP_200_OK) -> Response:
        ticket = selectors.member_tickets(Ticket.objects.filter(pk=ticket.pk)).get()
        return Response(
            TicketSerializer(ticket, context={"request": self.request}).data, status=status_code
        )


def _redemption(merchant: Merchant, public_id: uuid.UUID | None) -> Redemption | None:
    """The redemption a ticket names, looked up within the merchant. ``ticket_open``
    refuses another member's; one the merchant does not have is refused here in the same
    words, so that neither answer tells whether it exists."""
    if public_id is None:
        return None
    try:
        return fulfillment_selectors.redemption_get(merchant=merchant, public_id=public_id)
    except NotFound:
        raise InvalidTicketInput(
            "Not one of this member's redemptions.", field="redemption"
        ) from None


def _json_or_multipart(json: type, form: type) -> dict:
    return {"application/json": json, "multipart/form-data": form}


def _input(request: Request, json: type, form: type):
    """The serializer for the request's body: files come only in multipart/form-data."""
    multipart = (request.content_type or "").startswith("multipart/")
    serializer = (form if multipart else json)(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class TicketListView(_CareAPIView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        summary="Open a care ticket for a member",
        description="The member's question or problem, as its first public message. Send "
        "JSON, or multipart/form-data with files under `attachments`. A `missing_points` "
        "ticket names the order; a ticket about a reward may name the redemption (one of "
        "this member's). Unknown member: 404 `not_found`; a refused file: 400 "
        "`attachment_refused`. Honours `Idempotency-Key`.",
        request=_json_or_multipart(TicketInputSerializer, TicketFormSerializer),
        responses={
            201: TicketSerializer,
            **problems(INVALID_INPUT, InvalidTicketInput, AttachmentRefused, NotFound),
        },
        examples=[
            OpenApiExample(
                "A missing-points claim",
                value={
                    "member": "cust-1001",
                    "category": "missing_points",
                    "subject": "Points for order W-1042 missing",
                    "message": "I ordered shoes last week and got no points.",
                    "order": "W-1042",
                },
                request_only=True,
            ),
            OpenApiExample("The ticket", value=TICKET_EXAMPLE, response_only=True),
        ],
        tags=["tickets"],
    )
    def post(self, request: Request) -> Response:
        data = _input(request, TicketInputSerializer, TicketFormSerializer)
        member = loyalty_selectors.member_get(
            merchant=self.merchant, external_id=data["member"], field="member"
        )
        ticket = services.ticket_open(
            merchant=self.merchant,
            member=member,
            data=services.TicketInput(
                category=data["category"],
                subject=data["subject"],
                body=data["message"],
                order_external_id=data.get("order", ""),
                redemption=_redemption(self.merchant, data.get("redemption")),
            ),
            channel=TicketChannel.API,
            attachments=data.get("attachments", []),
            actor=self.actor,
        )
        return self.render_ticket(ticket, status.HTTP_201_CREATED)

    @extend_schema(
        summary="A member's tickets, newest first",
        description="Each with its public thread (never the agents' internal notes) and "
        "its rating; by cursor, 50 a page.",
        parameters=[TicketListQuerySerializer],
        responses={200: TicketSerializer(many=True), **problems(INVALID_INPUT, NotFound)},
        tags=["tickets"],
    )
    def get(self, request: Request) -> Response:
        query = TicketListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        member = loyalty_selectors.member_get(
            merchant=self.merchant, external_id=query.validated_data["member"], field="member"
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.member_ticket_list(merchant=self.merchant, member=member),
            request,
            view=self,
        )
        return paginator.get_paginated_response(
            TicketSerializer(page, many=True, context={"request": request}).data
        )


REFERENCE = OpenApiParameter(
    "reference",
    {"type": "string", "pattern": f"^{REFERENCE_FORM.pattern}$", "maxLength": 16},
    OpenApiParameter.PATH,
    description="The ticket's reference (T-...); an unknown one is a 404 `ticket_not_found`.",
    examples=[OpenApiExample("A ticket", value=EXAMPLE["ticket"])],
)


class TicketDetailView(_CareAPIView):
    @extend_schema(
        summary="A ticket and its public thread",
        description="Its status, category, what it names (order, redemption), the public "
        "messages oldest first with their files, and the rating of its latest resolution. "
        "A merged ticket says where its thread went (`merged_into`).",
        parameters=[REFERENCE],
        responses={200: TicketSerializer, **problems(TicketNotFound)},
        examples=[OpenApiExample("The ticket", value=TICKET_EXAMPLE, response_only=True)],
        tags=["tickets"],
    )
    def get(self, request: Request, reference: str) -> Response:
        return self.render_ticket(self.ticket(reference))


class TicketMessageView(_CareAPIView):
    @extend_schema(
        summary="The member writes on their ticket",
        description="A public message from the member (JSON, or multipart/form-data with "
        "files under `attachments`). A ticket waiting on the member, or resolved within "
        "the merchant's reopen window, opens again; a closed one is a 409 `ticket_closed` "
        "(open a new ticket). Honours `Idempotency-Key`.",
        parameters=[REFERENCE],
        request=_json_or_multipart(MessageInputSerializer, MessageFormSerializer),
        responses={
            201: MessageSerializer,
            **problems(
                INVALID_INPUT,
                InvalidTicketInput,
                AttachmentRefused,
                TicketNotFound,
                TicketClosed,
                InvalidTransition,
            ),
        },
        tags=["tickets"],
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = self.ticket(reference)
        data = _input(request, MessageInputSerializer, MessageFormSerializer)
        message = services.ticket_member_message(
            ticket=ticket,
            body=data["message"],
            attachments=data.get("attachments", []),
            actor=self.actor,
        )
        body = MessageSerializer(message, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class TicketCSATView(_CareAPIView):
    parser_classes = [JSONParser]  # a score is a JSON integer

    @extend_schema(
        summary="The member rates the ticket's resolution",
        description="A score from 1 to 5 and an optional comment, once per resolution: "
        "409 `csat_already_given` the second time, 409 `invalid_transition` before the "
        "ticket is resolved.",
        parameters=[REFERENCE],
        request=CSATInputSerializer,
        responses={
            201: CSATSerializer,
            **problems(
                INVALID_INPUT,
                InvalidTicketInput,
                TicketNotFound,
                CSATAlreadyGiven,
                InvalidTransition,
            ),
        },
        tags=["tickets"],
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = self.ticket(reference)
        serializer = CSATInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rating = services.csat_record(
            ticket=ticket,
            score=serializer.validated_data["score"],
            comment=serializer.validated_data["comment"],
            via="api",
        )
        return Response(CSATSerializer(rating).data, status=status.HTTP_201_CREATED)


class _AnyAccept(DefaultContentNegotiation):
    """A download answers whatever the client accepts (errors are still problem
    documents)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return (renderers[0], renderers[0].media_type)


class TicketAttachmentView(_CareAPIView):
    content_negotiation_class = _AnyAccept

    @extend_schema(
        summary="Download a file of the ticket's public thread",
        description="Sent as an attachment with its stored content type. Files of "
        "internal notes do not exist here (404).",
        parameters=[
            REFERENCE,
            OpenApiParameter(
                "attachment_id",
                {"type": "integer", "minimum": 1},
                OpenApiParameter.PATH,
                description="The file's id, as the message lists it.",
                examples=[OpenApiExample("A file", value=EXAMPLE["attachment"])],
            ),
        ],
        responses={
            **{
                (200, media_type): OpenApiResponse(
                    response=bytes, description="The file, in the type its bytes showed."
                )
                for media_type in DOWNLOAD_TYPES
            },
            **problems(TicketNotFound, NotFound),
        },
        tags=["tickets"],
    )
    def get(self, request: Request, reference: str, attachment_id: str) -> FileResponse:
        ticket = self.ticket(reference)
        attachment = selectors.public_attachment(ticket=ticket, attachment_id=attachment_id)
        if attachment is None:
            raise NotFound("No such file on this ticket.", field="attachment_id")
        response = attachment_download(attachment)
        if response is None:
            raise NotFound("The file is no longer available.", field="attachment_id")
        return response


def _locale(request: Request) -> str:
    query = LocaleQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return help_pages.help_language(query.validated_data.get("locale")) or settings.LANGUAGE_CODE


class TermsView(MerchantAPIView):
    @extend_schema(
        summary="The program terms in force",
        description="The highest published version whose effective date has come, in "
        "the locale asked for (English where not translated). 404 `not_found` when the "
        "merchant has published none.",
        parameters=[LocaleQuerySerializer],
        responses={200: TermsSerializer, **problems(INVALID_INPUT, NotFound)},
        tags=["program"],
    )
    def get(self, request: Request) -> Response:
        locale = _locale(request)
        terms = help_pages.terms_current(merchant=self.merchant)
        if terms is None:
            raise NotFound("No program terms are in force.")
        with translation.override(locale):
            body = {
                "version": terms.version,
                "effective_on": terms.effective_on,
                "locale": locale,
                "body": terms.body,
            }
            return Response(TermsSerializer(body).data)


class FAQView(MerchantAPIView):
    @extend_schema(
        summary="The program's FAQ",
        description="Published entries in their order, in the locale asked for (English "
        "where not translated).",
        parameters=[LocaleQuerySerializer],
        responses={200: FAQSerializer, **problems(INVALID_INPUT)},
        tags=["program"],
    )
    def get(self, request: Request) -> Response:
        locale = _locale(request)
        entries = help_pages.faq_published(merchant=self.merchant)
        with translation.override(locale):
            body = {
                "locale": locale,
                "entries": [
                    {"id": entry.pk, "question": entry.question, "answer": entry.answer}
                    for entry in entries
                ],
            }
            return Response(FAQSerializer(body).data)
