"""Demo data for the development run: the provider's care desk calendar and default SLA
policies, canned replies, each live merchant's FAQ and terms, the ops user as an
available agent and team lead, and a few tickets in different states."""

import datetime
from typing import TextIO

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import translation

from core.actors import Actor
from customercare import services
from customercare.models import (
    AgentProfile,
    BusinessCalendar,
    CannedReply,
    FAQEntry,
    Holiday,
    ProgramTerms,
    SLAPolicy,
    Ticket,
    TicketCategory,
    TicketChannel,
    TicketPriority,
    TicketStatus,
)
from loyalty.models import Member, Order, Program
from merchants.models import Merchant, MerchantStatus

DEMO = Actor.system("demo")

HOLIDAYS = [
    (datetime.date(2026, 12, 25), "Christmas Day"),
    (datetime.date(2027, 1, 1), "New Year's Day"),
    (datetime.date(2027, 5, 1), "Labour Day"),
    (datetime.date(2027, 12, 25), "Christmas Day"),
]
# Priority: first response, resolution (minutes); urgent runs around the clock.
DEFAULT_TARGETS = {
    TicketPriority.LOW: (8 * 60, 40 * 60),
    TicketPriority.NORMAL: (4 * 60, 24 * 60),
    TicketPriority.HIGH: (60, 8 * 60),
    TicketPriority.URGENT: (30, 4 * 60),
}
CANNED = [
    (
        "Points credited",
        "Hello {member_name},\n\nThank you for your patience. We have credited the missing "
        "points: your balance is now {points_balance} {points_name}.\n\nThe {merchant_name} "
        "rewards team",
    ),
    (
        "Reward on its way",
        "Hello {member_name},\n\nYour {reward_name} is on its way; you will get an email with "
        "the link to claim it as soon as it is delivered.\n\nThe {merchant_name} rewards team",
    ),
    (
        "Need the order number",
        "Hello {member_name},\n\nCould you send us the order number from your confirmation "
        "email? We will check it at once (reference {ticket_reference}).\n\nThe "
        "{merchant_name} rewards team",
    ),
]
FAQ = [
    (
        "How do I earn points?",
        "You earn points on every order, once the return window has passed.",
        "Comment gagner des points ?",
        "Vous gagnez des points à chaque commande, une fois le délai de retour écoulé.",
    ),
    (
        "When do my points expire?",
        "Points expire as the program terms say; your member page shows the date.",
        "Quand mes points expirent-ils ?",
        "Les points expirent selon les conditions du programme ; la date figure sur votre page.",
    ),
    (
        "My reward has not arrived.",
        "Open a ticket with the redemption: we check it with the supplier and resend or "
        "reissue it.",
        "Ma récompense n'est pas arrivée.",
        "Ouvrez une demande avec la récompense : nous vérifions auprès du fournisseur et la "
        "renvoyons ou la rééditons.",
    ),
]


def _calendar() -> BusinessCalendar:
    calendar, _ = BusinessCalendar.objects.get_or_create(
        name="Provider care desk",
        defaults={
            "timezone": "Europe/Paris",
            "weekdays": "12345",
            "opens_at": "09:00",
            "closes_at": "18:00",
        },
    )
    for date, name in HOLIDAYS:
        Holiday.objects.get_or_create(calendar=calendar, date=date, defaults={"name": name})
    return calendar


def _policies(calendar: BusinessCalendar) -> None:
    for priority, (first, resolution) in DEFAULT_TARGETS.items():
        SLAPolicy.objects.get_or_create(
            merchant=None,
            priority=priority,
            defaults={
                "first_response_minutes": first,
                "resolution_minutes": resolution,
                "calendar": None if priority == TicketPriority.URGENT else calendar,
            },
        )


def _help_pages(merchant: Merchant) -> None:
    if FAQEntry.objects.filter(merchant=merchant).exists():
        return
    for position, (question, answer, question_fr, answer_fr) in enumerate(FAQ):
        FAQEntry.objects.create(
            merchant=merchant,
            position=position,
            question_en=question,
            answer_en=answer,
            question_fr=question_fr,
            answer_fr=answer_fr,
        )
    ProgramTerms.objects.create(
        merchant=merchant,
        version=1,
        effective_on=datetime.date(2026, 1, 1),
        is_published=True,
        body_en=f"{merchant.name} rewards: points are earned on orders and expire after "
        "24 months. Rewards cannot be exchanged for cash.",
        body_fr=f"Récompenses {merchant.name} : les points sont gagnés sur les commandes et "
        "expirent après 24 mois. Les récompenses ne sont pas échangeables contre de l'argent.",
    )
    ProgramTerms.objects.create(
        merchant=merchant,
        version=2,
        effective_on=datetime.date(2027, 1, 1),
        is_published=True,
        body_en=f"{merchant.name} rewards (2027): points are earned on orders and expire after "
        "18 months. Rewards cannot be exchanged for cash.",
    )


def _tickets(merchant: Merchant, agent) -> int:
    if Ticket.objects.filter(merchant=merchant).exists():
        return 0
    members = list(Member.objects.filter(merchant=merchant).order_by("external_id")[:4])
    if len(members) < 4:
        return 0
    order = Order.objects.filter(member=members[0]).first()
    missing = services.ticket_open(
        merchant=merchant,
        member=members[0],
        data=services.TicketInput(
            category=TicketCategory.MISSING_POINTS,
            subject="Points missing for my last order",
            body="I ordered last week and did not get my points.",
            order_external_id=order.external_id if order else "NW-UNKNOWN",
        ),
        channel=TicketChannel.API,
        actor=DEMO,
    )
    services.ticket_open(
        merchant=merchant,
        member=members[1],
        data=services.TicketInput(
            category=TicketCategory.ACCOUNT_AND_DATA,
            subject="Please change my email address",
            body="I have a new email address; can you update it?",
            priority=TicketPriority.LOW,
        ),
        channel=TicketChannel.API,
        actor=DEMO,
    )
    waiting = services.ticket_open(
        merchant=merchant,
        member=members[2],
        data=services.TicketInput(
            category=TicketCategory.REDEMPTION_QUESTION,
            subject="Which gift cards can I get?",
            body="Can I use my points for a coffee gift card?",
        ),
        channel=TicketChannel.API,
        actor=DEMO,
    )
    services.ticket_reply(
        ticket=waiting,
        body="Yes: the Caffè Aurora card is in your rewards. Which value would you like?",
        internal=False,
        actor=Actor.staff(agent),
        then=TicketStatus.PENDING_CUSTOMER,
    )
    done = services.ticket_open(
        merchant=merchant,
        member=members[3],
        data=services.TicketInput(
            category=TicketCategory.OTHER,
            subject="Thank you",
            body="Just wanted to say the program is great.",
        ),
        channel=TicketChannel.API,
        actor=DEMO,
    )
    services.ticket_reply(
        ticket=done,
        body="Thank you for the kind words!",
        internal=False,
        actor=Actor.staff(agent),
        then=TicketStatus.RESOLVED,
    )
    services.ticket_reply(
        ticket=missing,
        body="Checked the order: see the system note. Crediting once it is released.",
        internal=True,
        actor=Actor.staff(agent),
    )
    return 4


def seed(*, out: TextIO) -> None:
    with translation.override("en"), transaction.atomic():
        calendar = _calendar()
        _policies(calendar)
        for title, body in CANNED:
            CannedReply.objects.get_or_create(
                merchant=None, title=title, defaults={"body_en": body}
            )
        agent = get_user_model().objects.filter(username="ops").first()
        if agent is not None:
            AgentProfile.objects.get_or_create(
                user=agent, defaults={"is_available": True, "is_team_lead": True}
            )
        opened = 0
        merchants = Merchant.objects.filter(status=MerchantStatus.LIVE).order_by("pk")
        for merchant in merchants:
            _help_pages(merchant)
            if agent is not None and Program.objects.filter(merchant=merchant).exists():
                opened += _tickets(merchant, agent)
    out.write(
        f"Demo care desk: SLA policies, {len(CANNED)} canned replies, FAQ and terms for "
        f"{merchants.count()} merchants, {opened} new tickets.\n"
    )
