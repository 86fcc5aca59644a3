"""Building blocks of the care tests: a merchant with a program and members, agents of
the Customer care group, and tickets opened through the service."""

from django.contrib.auth.models import Group

from core.actors import SYSTEM, Actor
from core.staff_groups import staff_groups_sync
from customercare import services
from customercare.models import AgentProfile, Ticket, TicketCategory, TicketChannel
from loyalty.models import Member
from merchants.models import Merchant
from tests.catalog.factories import merchant_with_program
from tests.loyalty.factories import member_make, next_id
from tests.merchants.factories import StaffFactory


def care_merchant(**terms) -> Merchant:
    merchant, _ = merchant_with_program(**terms)
    return merchant


def member_of(
    merchant: Merchant, points: int = 0, *, email: str = "ana@example.com", locale: str = ""
) -> Member:
    return member_make(
        merchant,
        next_id("cust"),
        points=points,
        country="US",
        email=email,
        first_name="Ana",
        locale=locale,
    )


def agent_make(
    *, available: bool = True, cap: int = 25, lead: bool = False, username: str | None = None
):
    staff_groups_sync()
    user = StaffFactory(**({"username": username} if username else {}))
    user.groups.add(Group.objects.get(name="Customer care"))
    AgentProfile.objects.create(
        user=user, is_available=available, max_open_tickets=cap, is_team_lead=lead
    )
    return user


def ticket_open(
    member: Member,
    *,
    category: str = TicketCategory.OTHER,
    subject: str = "Where are my points?",
    body: str = "I bought shoes last week.",
    channel: str = TicketChannel.API,
    actor: Actor = SYSTEM,
    attachments=(),
    **data,
) -> Ticket:
    return services.ticket_open(
        merchant=member.merchant,
        member=member,
        data=services.TicketInput(category=category, subject=subject, body=body, **data),
        channel=channel,
        attachments=attachments,
        actor=actor,
    )
