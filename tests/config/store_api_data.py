"""A store with something behind every route of the API, for the schemathesis run.

The ids are the ones the schema's examples use (``merchants.api.schema.EXAMPLE``), so the
generated calls reach the services and not only the 401 and 404 answers.
"""

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.actors import Actor
from customercare import services as care_services
from customercare.models import (
    FAQEntry,
    ProgramTerms,
    Ticket,
    TicketAttachment,
    TicketCategory,
    TicketChannel,
)
from fulfillment.models import Redemption
from fulfillment.services import redemptions as fulfillment_services
from loyalty.services.orders import OrderInput, order_record
from merchants.api.schema import EXAMPLE
from merchants.models import Scope
from tests.catalog.factories import (
    RewardFactory,
    merchant_with_program,
    offered,
    select,
)
from tests.loyalty.factories import member_make
from tests.merchants.factories import issue_key

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class Store:
    raw_key: str
    reward_id: int


def store_with_data() -> Store:
    merchant, _ = merchant_with_program(country="US", currency="USD")
    _, raw_key = issue_key(
        merchant, scopes=(Scope.READ, Scope.WRITE, Scope.ADJUST, Scope.CODES), name="fuzz"
    )
    member = member_make(
        merchant,
        EXAMPLE["member"],
        points=10_000_000,
        country="US",
        email="ana@example.com",
        first_name="Ana",
    )
    member_make(merchant, "cust-1002", country="US")
    order_record(
        merchant=merchant,
        data=OrderInput(
            external_id=EXAMPLE["order"],
            member_external_id=member.external_id,
            total=Decimal("120.00"),
            currency="USD",
            placed_at=timezone.now() - datetime.timedelta(days=2),
        ),
        actor=Actor.system("test"),
    )
    reward = offered(RewardFactory(pk=EXAMPLE["reward"], denominations=["10", "25", "50"]))
    select(merchant, reward, price_step=1)
    recorded = fulfillment_services.redemption_create(
        merchant=merchant,
        data=fulfillment_services.RedemptionInput(
            member_external_id=member.external_id,
            reward_id=reward.pk,
            value=Decimal("10"),
            recipient={"email": "ana@example.com"},
            external_id="rdm-1",
        ),
        actor=Actor.system("test"),
    )
    Redemption.objects.filter(pk=recorded.obj.pk).update(public_id=uuid.UUID(EXAMPLE["redemption"]))
    ticket = care_services.ticket_open(
        merchant=merchant,
        member=member,
        data=care_services.TicketInput(
            category=TicketCategory.MISSING_POINTS,
            subject="Points for order W-1042 missing",
            body="I ordered shoes last week and got no points.",
            order_external_id=EXAMPLE["order"],
        ),
        channel=TicketChannel.API,
        attachments=[SimpleUploadedFile("receipt.pdf", PDF)],
        actor=Actor.system("test"),
    )
    Ticket.objects.filter(pk=ticket.pk).update(reference=EXAMPLE["ticket"])
    TicketAttachment.objects.filter(message__ticket=ticket).update(id=EXAMPLE["attachment"])
    ProgramTerms.objects.create(
        merchant=merchant,
        version=1,
        effective_on=datetime.date(2025, 1, 1),
        body="Points expire after 12 months.",
        is_published=True,
    )
    FAQEntry.objects.create(merchant=merchant, question="How do I earn?", answer="Shop.")
    return Store(raw_key=raw_key, reward_id=reward.pk)
