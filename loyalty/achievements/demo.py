"""The demo's achievements: the four a merchant would start with, with drawn badges, and
a member who has completed the monthly streak."""

import io
from decimal import Decimal

from django.utils import timezone
from PIL import Image, ImageDraw

from core.actors import Actor
from core.money import quantize_places
from loyalty.achievements.badges import badge_png
from loyalty.models import Achievement, Program
from loyalty.services import activities, orders

DEMO = Actor.system("demo")

# name, description, colour, terms
DEMO_ACHIEVEMENTS = [
    (
        "Three orders in 30 days",
        "Order three times within 30 days.",
        (37, 99, 235),
        {"trigger": "order", "goal": Decimal(3), "window": "rolling", "window_days": 30},
        150,
    ),
    (
        "Monthly streak: order 3 months in a row",
        "Place at least one order in each of three consecutive months.",
        (22, 163, 74),
        {"trigger": "order", "goal": Decimal(3), "window": "streak", "streak_unit": "month"},
        300,
    ),
    (
        "Spend $500 in a year",
        "Spend 500 dollars (or the same in your currency) within 365 days.",
        (217, 119, 6),
        {"trigger": "order", "measure": "spend", "window": "rolling", "window_days": 365},
        500,
    ),
    (
        "First review",
        "Write your first product review.",
        (147, 51, 234),
        {"trigger": "activity", "activity_kind": "review", "goal": Decimal(1)},
        50,
    ),
]


def _badge(colour: tuple[int, int, int], step: int) -> tuple[bytes, str]:
    """A round badge of ``colour`` with ``step`` small stars: drawn, then made a badge
    the way an upload is."""
    size = 512
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((16, 16, size - 16, size - 16), fill=(*colour, 255))
    draw.ellipse((72, 72, size - 72, size - 72), outline=(255, 255, 255, 235), width=18)
    for n in range(step):
        x = size // 2 + (n - (step - 1) / 2) * 96
        draw.regular_polygon((x, size // 2, 44), 5, rotation=90, fill=(255, 255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return badge_png(out.getvalue())


def achievements_make(program: Program, usd_rate: Decimal) -> list[Achievement]:
    made = []
    for position, (name, description, colour, terms, points) in enumerate(DEMO_ACHIEVEMENTS):
        terms = dict(terms)
        if terms.get("measure") == "spend":
            terms["goal"] = quantize_places(Decimal(500) * usd_rate, 0)
        badge, version = _badge(colour, position + 1)
        made.append(
            Achievement.objects.create(
                merchant=program.merchant,
                program=program,
                name=name,
                description=description,
                position=(position + 1) * 10,
                reward_points=points,
                badge=badge,
                badge_version=version,
                **terms,
            )
        )
    return made


def streak_member(program: Program, fields: dict) -> str:
    """A member with an order in each of the last three months (the streak completed)
    and a review (the first review completed). Returns their external id."""
    import time_machine

    merchant = program.merchant
    external_id = f"{merchant.slug}-cust-streak"
    now = timezone.now()
    unit = Decimal(1) if merchant.default_currency != "JPY" else Decimal(100)
    for months_ago in (2, 1, 0):
        placed = now
        if months_ago:
            month = now.year * 12 + now.month - 1 - months_ago
            placed = now.replace(year=month // 12, month=month % 12 + 1, day=10, hour=12)
        with time_machine.travel(placed, tick=False):
            orders.order_record(
                merchant=merchant,
                data=orders.OrderInput(
                    external_id=f"{merchant.slug}-streak-order-{months_ago}",
                    member_external_id=external_id,
                    total=unit * 64,
                    currency=merchant.default_currency,
                    placed_at=placed,
                    member_fields=fields,
                ),
                actor=DEMO,
            )
    activities.activity_record(
        merchant=merchant,
        data=activities.ActivityInput(
            external_id=f"{external_id}-review-1",
            member_external_id=external_id,
            kind="review",
            occurred_at=now,
        ),
        actor=DEMO,
    )
    return external_id
