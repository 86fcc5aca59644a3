"""Achievements of a test program, made as ops make them (a row of the program; the
database renews the merchant's configuration version)."""

from decimal import Decimal
from typing import Any

from loyalty.models import Achievement, Program


def achievement_make(program: Program, **fields: Any) -> Achievement:
    terms: dict[str, Any] = {
        "name": "Three orders",
        "trigger": "order",
        "measure": "count",
        "goal": Decimal(3),
        "window": "overall",
        "reward_points": 100,
    }
    terms.update(fields)
    return Achievement.objects.create(merchant=program.merchant, program=program, **terms)
