"""Demo data for the development run: exchange rates, a program with tiers and rules for
each merchant past review, and members with orders, refunds and activities."""

import datetime
import random
from decimal import Decimal
from typing import TextIO

from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from core.money import quantize_places
from loyalty import jobs
from loyalty.achievements import demo as demo_achievements
from loyalty.campaigns import services as campaigns
from loyalty.models import (
    Campaign,
    CampaignEffect,
    CampaignStatus,
    CapPeriod,
    EarningRule,
    ExchangeRate,
    ExpiryPolicy,
    Program,
    RuleKind,
    Segment,
    Tier,
)
from loyalty.referrals import demo as demo_referrals
from loyalty.segments import services as segments
from loyalty.services import activities, orders, programs, refunds
from merchants.models import Merchant, MerchantStatus

# One US dollar in each currency (illustrative figures for the demo).
USD_RATES = {
    "EUR": "0.92",
    "GBP": "0.79",
    "JPY": "151",
    "NOK": "10.9",
    "NZD": "1.68",
    "AED": "3.6725",
    "CAD": "1.37",
    "AUD": "1.52",
}
POINT_VALUE = {"JPY": "1", "NOK": "0.1", "AED": "0.04"}
EARN_RATE = {"JPY": "0.01", "NOK": "0.1", "AED": "0.25"}
CATEGORIES = ["apparel", "footwear", "camping", "kitchen", "gifts"]
DEMO = Actor.system("demo")


def _rates() -> None:
    as_of = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for quote, rate in USD_RATES.items():
        ExchangeRate.objects.get_or_create(
            base="USD", quote=quote, as_of=as_of, defaults={"rate": Decimal(rate), "source": "demo"}
        )


def _program(merchant: Merchant) -> Program:
    currency = merchant.default_currency
    program = programs.program_configure(
        merchant=merchant,
        actor=DEMO,
        name=f"{merchant.name} Rewards",
        points_name="Stars",
        point_value=Decimal(POINT_VALUE.get(currency, "0.01")),
        base_earn_rate=Decimal(EARN_RATE.get(currency, "1")),
        pending_days=14,
        expiry_policy=ExpiryPolicy.LOT_AGE,
        expiry_months=24,
        tiers_enabled=True,
    )
    for name, threshold, multiplier in (("Silver", 500, "1.25"), ("Gold", 2000, "1.5")):
        Tier.objects.create(
            program=program,
            name=name,
            threshold=threshold,
            multiplier=Decimal(multiplier),
            benefits=f"{name} members earn {multiplier} times the points.",
        )
    EarningRule.objects.create(
        program=program,
        name="Double points on camping",
        kind=RuleKind.PURCHASE_MULTIPLIER,
        priority=10,
        multiplier=Decimal(2),
        include_categories=["camping"],
    )
    EarningRule.objects.create(
        program=program,
        name="Big basket bonus",
        kind=RuleKind.PURCHASE_BONUS,
        priority=20,
        bonus_points=100,
        min_order_total=quantize_places(Decimal(150) * Decimal(USD_RATES.get(currency, "1")), 0),
    )
    for kind, points, cap in (
        ("sign_up", 100, CapPeriod.EVER),
        ("review", 50, CapPeriod.DAY),
        ("birthday", 200, CapPeriod.YEAR),
    ):
        EarningRule.objects.create(
            program=program,
            name=f"{kind.replace('_', ' ').capitalize()} bonus",
            kind=RuleKind.ACTIVITY_BONUS,
            activity_kind=kind,
            bonus_points=points,
            cap_period=cap,
        )
    return program


def _order_lines(rng: random.Random, unit: Decimal) -> tuple[orders.LineInput, ...]:
    return tuple(
        orders.LineInput(
            sku=f"SKU-{rng.randint(100, 999)}",
            category=rng.choice(CATEGORIES),
            quantity=rng.randint(1, 3),
            unit_price=unit * rng.randint(10, 90),
        )
        for _ in range(rng.randint(1, 3))
    )


def _history(merchant: Merchant, rng: random.Random, count: int) -> list[tuple]:
    """The members' sign-ups, orders and refunds over the last eight months, in the order
    they happened: (when, what, arguments)."""
    now = timezone.now()
    currency = merchant.default_currency
    unit = Decimal(1) if currency != "JPY" else Decimal(100)
    events = []
    for n in range(1, count + 1):
        external_id = f"{merchant.slug}-cust-{n:03d}"
        fields = {
            "email": f"customer{n}@{merchant.slug}.example",
            "first_name": rng.choice(["Ana", "Ben", "Chloé", "Dev", "Emi", "Finn", "Gia"]),
            "last_name": rng.choice(["Berg", "Costa", "Dubois", "Ito", "Khan", "Olsen"]),
            "country": merchant.country.code,
            "marketing_consent": rng.random() < 0.6,
        }
        joined = now - datetime.timedelta(days=rng.randint(20, 240), hours=rng.randint(0, 23))
        events.append((joined, "sign_up", (external_id, fields)))
        for o in range(rng.randint(1, 6)):
            placed = joined + (now - joined) * rng.random()
            lines = _order_lines(rng, unit)
            order_id = f"{merchant.slug}-order-{n:03d}-{o}"
            events.append((placed, "order", (external_id, order_id, lines)))
            if rng.random() < 0.1:
                refunded = placed + datetime.timedelta(days=rng.randint(1, 10))
                if refunded < now:
                    events.append((refunded, "refund", (order_id, lines[0].unit_price)))
    return sorted(events, key=lambda event: event[0])


def _members(merchant: Merchant, rng: random.Random, count: int) -> None:
    """Record the history at the times it happened: the services read the clock, so each
    event is recorded with the clock set to its time (time-machine, a development
    dependency: the demo is refused in production), and the reports have months to show."""
    import time_machine

    currency = merchant.default_currency
    released_on = None
    for when, kind, args in _history(merchant, rng, count):
        with time_machine.travel(when, tick=False):
            if when.date() != released_on:  # the daily job, as it would have run
                jobs.release_pending_points(now=when, merchant_id=merchant.pk)
                released_on = when.date()
            if kind == "sign_up":
                external_id, fields = args
                activities.activity_record(
                    merchant=merchant,
                    data=activities.ActivityInput(
                        external_id=f"{external_id}-signup",
                        member_external_id=external_id,
                        kind="sign_up",
                        occurred_at=when,
                        member_fields=fields,
                    ),
                    actor=DEMO,
                )
            elif kind == "order":
                external_id, order_id, lines = args
                orders.order_record(
                    merchant=merchant,
                    data=orders.OrderInput(
                        external_id=order_id,
                        member_external_id=external_id,
                        total=sum((line.unit_price * line.quantity for line in lines), Decimal(0)),
                        currency=currency,
                        placed_at=when,
                        lines=lines,
                    ),
                    actor=DEMO,
                )
            else:
                order_id, amount = args
                refunds.refund_record(
                    merchant=merchant,
                    order_external_id=order_id,
                    data=refunds.RefundInput(external_id=f"{order_id}-r", amount=amount),
                    actor=DEMO,
                )


# Segments a marketer would start with; amounts in the program's currency.
DEMO_SEGMENTS = [
    (
        "Lapsed high spenders",
        "Spent well in the last year, no order for 60 days: worth a win-back offer.",
        [
            [{"field": "spend", "op": "gte", "value": "150", "window": {"last_days": 365}}],
            [{"field": "days_since_last_order", "op": "gte", "value": 60}],
        ],
    ),
    (
        "New this month",
        "Joined in the last 30 days.",
        [[{"field": "member_since", "op": "within_last_days", "value": 30}]],
    ),
    (
        "Camping fans",
        "Bought camping gear in the last 90 days, or ordered three times or more.",
        [
            [
                {
                    "field": "bought",
                    "op": "any",
                    "value": [],
                    "categories": ["camping"],
                    "window": {"last_days": 90},
                },
                {"field": "orders_count", "op": "gte", "value": 3},
            ]
        ],
    ),
]


def _segments(merchant: Merchant) -> None:
    for name, description, groups in DEMO_SEGMENTS:
        segment = segments.segment_save(
            segment=Segment(
                merchant=merchant,
                name=name,
                description=description,
                definition={"version": 1, "groups": [{"conditions": g} for g in groups]},
            ),
            actor=DEMO,
        )
        segments.segment_refresh(segment_id=segment.pk, now=timezone.now())
    segments.member_scores_compute(now=timezone.now(), merchant_id=merchant.pk)


def _campaign(program: Program) -> Campaign:
    """A running campaign over the last 60 days and the next 30, for every member, with a
    30% control group: its report compares the two."""
    now = timezone.now()
    campaign = campaigns.campaign_save(
        campaign=Campaign(
            program=program,
            name="Double stars on camping",
            description="Twice the stars on tents, packs and everything for the trail.",
            starts_at=now - datetime.timedelta(days=60),
            ends_at=now + datetime.timedelta(days=30),
            effect=CampaignEffect.MULTIPLIER,
            multiplier=Decimal(2),
            include_categories=["camping"],
            points_budget=50_000,
            holdout_percent=Decimal(30),
        ),
        actor=DEMO,
    )
    for status in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING):
        campaigns.campaign_transition(
            campaign=campaign, to_status=status, reason="demo", actor=DEMO
        )
    return campaign


def _expiry_warning(merchant: Merchant) -> None:
    """A member with stars that expire within the first warning window, warned at once:
    the warning is in the development run's console email (and the daily job would send
    it too)."""
    from loyalty import ledger, locks
    from loyalty.messages import jobs as message_jobs
    from loyalty.models import Member

    member = Member.objects.filter(merchant=merchant).exclude(email="").order_by("pk").first()
    if member is None:
        return
    now = timezone.now()
    ledger.points_adjust(
        member=locks.member_lock(member.pk),
        points=250,
        reason="Demo: a welcome gift that expires soon",
        at=now,
        expires_at=now + datetime.timedelta(days=6),
        actor=DEMO,
    )
    message_jobs.expiry_warnings_send(now=now, merchant_id=merchant.pk)


def seed(*, out: TextIO) -> None:
    rng = random.Random(7)  # noqa: S311 (repeatable demo data, nothing secret)
    with transaction.atomic():
        _rates()
        seeded = 0
        for merchant in Merchant.objects.filter(
            status__in=[MerchantStatus.APPROVED, MerchantStatus.LIVE, MerchantStatus.SUSPENDED]
        ).order_by("pk"):
            if Program.objects.filter(merchant=merchant).exists():
                continue
            program = _program(merchant)
            usd_rate = Decimal(USD_RATES.get(merchant.default_currency, "1"))
            demo_achievements.achievements_make(program, usd_rate)
            if merchant.status == MerchantStatus.LIVE:
                _campaign(program)
                _members(merchant, rng, count=40)
                demo_achievements.streak_member(
                    program,
                    {
                        "first_name": "Sam",
                        "email": f"sam@{merchant.slug}.example",
                        "country": merchant.country.code,
                    },
                )
                jobs.release_pending_points(now=timezone.now(), merchant_id=merchant.pk)
                _segments(merchant)
                _expiry_warning(merchant)
            demo_referrals.referrals_make(
                program, usd_rate, with_referrals=merchant.status == MerchantStatus.LIVE
            )
            seeded += 1
    if seeded:
        out.write(f"Demo programs created: {seeded} (with members, orders and activities).\n")
