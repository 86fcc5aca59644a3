"""Medians and percentiles of elapsed times, one definition for every report (care's
response times, fulfillment's delivery times).

A percentile interpolates linearly between the two closest rows, as PostgreSQL's
``percentile_cont`` does, and is kept to the whole second. On PostgreSQL the database
computes it (``PercentileCont``: no rows come to Python); elsewhere (the embedded
SQLite) ``percentile`` does over the rows, with the same result.
"""

import datetime
import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from django.db import connections
from django.db.models import Aggregate, DurationField

MEDIAN = Fraction(1, 2)
P90 = Fraction(9, 10)


@dataclass(frozen=True)
class Durations:
    """How many elapsed times were counted, their median and 90th percentile."""

    count: int = 0
    median: datetime.timedelta | None = None
    p90: datetime.timedelta | None = None


def percentile(
    values: Iterable[datetime.timedelta], fraction: Fraction
) -> datetime.timedelta | None:
    """The ``fraction`` percentile, interpolated linearly between the closest rows (as
    ``percentile_cont``), to the whole second; ``None`` without values."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    low_us, high_us = micros(ordered[low]), micros(ordered[high])
    exact = low_us + (high_us - low_us) * (position - low)
    return whole_seconds(exact)


def durations_summary(values: Iterable[datetime.timedelta]) -> Durations:
    values = list(values)
    return Durations(len(values), percentile(values, MEDIAN), percentile(values, P90))


def micros(value: datetime.timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


def whole_seconds(value: Fraction | int) -> datetime.timedelta:
    """``value`` microseconds, rounded to the second (half to even, as ``round``)."""
    seconds = Fraction(value) / 1_000_000
    return datetime.timedelta(seconds=round(seconds))


def rounded(value: datetime.timedelta | None) -> datetime.timedelta | None:
    """A database percentile kept to the whole second, as ``percentile`` keeps it."""
    return None if value is None else whole_seconds(micros(value))


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set ``percentile_cont`` (works on intervals)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression: Any, fraction: Fraction, **extra: Any) -> None:
        super().__init__(
            expression,
            fraction=f"{float(fraction):.6f}",
            output_field=DurationField(),
            **extra,
        )


def database_percentiles(using: str = "default") -> bool:
    """Whether the database ``using`` computes percentiles itself."""
    return connections[using].vendor == "postgresql"
