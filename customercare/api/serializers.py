from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import StrictCharField, StrictChoiceField, StrictIntegerField
from customercare.attachments import MAX_FILES
from customercare.models import (
    CSATResponse,
    MessageKind,
    Ticket,
    TicketAttachment,
    TicketCategory,
    TicketMessage,
)
from customercare.selectors import csat_open, current_csat, public_messages
from customercare.services import BODY_MAX, SUBJECT_MAX
from loyalty.api.serializers import external_id_field
from merchants.api.schema import EXAMPLE

LOCALE_PATTERN = r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$"


# -- input ---------------------------------------------------------------------------------


@extend_schema_field(
    {"type": "array", "items": {"type": "string", "format": "binary"}, "maxItems": MAX_FILES}
)
class AttachmentsField(serializers.ListField):
    child = serializers.FileField(allow_empty_file=True, use_url=False)

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", list)
        kwargs.setdefault(
            "help_text",
            "Files, in a multipart/form-data request: PDF, PNG, JPEG, GIF or UTF-8 text, "
            "recognised by their content; at most 5 files of 5 MB each.",
        )
        super().__init__(**kwargs)


class TicketInputSerializer(serializers.Serializer):
    member = external_id_field(help_text="The member's external_id.", example=EXAMPLE["member"])
    category = StrictChoiceField(choices=TicketCategory.choices)
    subject = StrictCharField(max_length=SUBJECT_MAX)
    message = StrictCharField(max_length=BODY_MAX, help_text="The member's words.")
    order = external_id_field(
        required=False,
        allow_blank=True,
        help_text="The order's external_id; required for a missing_points ticket.",
    )
    redemption = serializers.UUIDField(
        required=False, allow_null=True, help_text="The id of one of this member's redemptions."
    )

    def validate(self, attrs: dict) -> dict:
        if "attachments" in self.initial_data and "attachments" not in self.fields:
            raise serializers.ValidationError(
                {"attachments": "Send files in a multipart/form-data request."}
            )
        return attrs


class TicketFormSerializer(TicketInputSerializer):
    """The same in a multipart/form-data request, which may carry files."""

    attachments = AttachmentsField()


class TicketListQuerySerializer(serializers.Serializer):
    member = external_id_field(help_text="The member's external_id.", example=EXAMPLE["member"])


class MessageInputSerializer(serializers.Serializer):
    message = StrictCharField(max_length=BODY_MAX)

    validate = TicketInputSerializer.validate


class MessageFormSerializer(MessageInputSerializer):
    """The same in a multipart/form-data request, which may carry files."""

    attachments = AttachmentsField()


class CSATInputSerializer(serializers.Serializer):
    score = StrictIntegerField(min_value=1, max_value=5)
    comment = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class LocaleQuerySerializer(serializers.Serializer):
    locale = StrictCharField(
        pattern=LOCALE_PATTERN,
        max_length=20,
        required=False,
        allow_blank=True,
        help_text="A locale such as fr or fr-CA; English when absent, empty or not supported.",
    )


# -- output --------------------------------------------------------------------------------


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Where to download it (same API key).")

    class Meta:
        model = TicketAttachment
        fields = ["id", "filename", "content_type", "size", "url"]

    def get_url(self, attachment: TicketAttachment) -> str:
        path = reverse(
            "api-ticket-attachment",
            kwargs={"reference": self.context["reference"], "attachment_id": attachment.pk},
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.CharField(
        source="author_type", help_text="member, staff (a care agent) or system."
    )
    attachments = serializers.SerializerMethodField()

    class Meta:
        model = TicketMessage
        fields = ["id", "author", "body", "created_at", "attachments"]

    @extend_schema_field(AttachmentSerializer(many=True))
    def get_attachments(self, message: TicketMessage) -> list[dict]:
        # Only public messages reach this serializer; the check stays as a second lock.
        if message.kind != MessageKind.PUBLIC:
            return []
        context = {**self.context, "reference": message.ticket.reference}
        return AttachmentSerializer(message.attachments.all(), many=True, context=context).data


class CSATSerializer(serializers.ModelSerializer):
    class Meta:
        model = CSATResponse
        fields = ["score", "comment", "resolution", "created_at"]


class TicketSerializer(serializers.ModelSerializer):
    member = serializers.CharField(source="member.external_id")
    order = serializers.SerializerMethodField(help_text="The order's external_id, if named.")
    redemption = serializers.UUIDField(source="redemption.public_id", allow_null=True, default=None)
    merged_into = serializers.CharField(
        source="merged_into.reference",
        allow_null=True,
        default=None,
        help_text="Where the thread went, for a merged ticket.",
    )
    messages = serializers.SerializerMethodField(help_text="Public messages, oldest first.")
    csat = serializers.SerializerMethodField(help_text="The rating of the latest resolution.")
    csat_open = serializers.SerializerMethodField(
        help_text="Whether the member may rate the latest resolution now."
    )

    class Meta:
        model = Ticket
        fields = [
            "reference",
            "member",
            "status",
            "category",
            "subject",
            "order",
            "redemption",
            "merged_into",
            "created_at",
            "updated_at",
            "resolved_at",
            "messages",
            "csat",
            "csat_open",
        ]

    def get_order(self, ticket: Ticket) -> str | None:
        return ticket.order_external_id or None

    @extend_schema_field(MessageSerializer(many=True))
    def get_messages(self, ticket: Ticket) -> list[dict]:
        messages = public_messages(ticket)
        for message in messages:
            message.ticket = ticket
        return MessageSerializer(messages, many=True, context=self.context).data

    @extend_schema_field(CSATSerializer(allow_null=True))
    def get_csat(self, ticket: Ticket) -> dict | None:
        found = current_csat(ticket)
        return CSATSerializer(found).data if found is not None else None

    def get_csat_open(self, ticket: Ticket) -> bool:
        return csat_open(ticket)


class TermsSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    effective_on = serializers.DateField()
    locale = serializers.CharField(help_text="The language asked for (see body).")
    body = serializers.CharField(
        help_text="The terms in that language; in English where not translated."
    )


class FAQEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    question = serializers.CharField()
    answer = serializers.CharField()


class FAQSerializer(serializers.Serializer):
    locale = serializers.CharField(help_text="The language asked for.")
    entries = FAQEntrySerializer(
        many=True, help_text="In that language; in English where not translated."
    )
