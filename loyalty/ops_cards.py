"""The money cards of the ops home (``core.ops_cards``), from the report aggregates: the
points every merchant's members earned and spent today, with the week behind them, and
what the provider's merchants owe their members."""

import datetime

from django.core.cache import cache

from core.ops_cards import Card, Figure
from core.site_time import site_today
from loyalty.reports.selectors import provider_liability, provider_points_by_day

LEDGER = "admin:loyalty_ledgerentry_changelist"
LIABILITY_CACHE_KEY = "ops-home:liability"
LIABILITY_SECONDS = 300


def _week(now: datetime.datetime):
    today = site_today(now)
    return provider_points_by_day(start=today - datetime.timedelta(days=6), end=today)


def _issued(now: datetime.datetime) -> Figure:
    days = _week(now)
    today = days[-1].issued
    return Figure(
        value=today,
        text=f"{today:,}",
        note=f"{sum(day.issued for day in days):,} in 7 days",
        trend=tuple(day.issued for day in days),
    )


def _redeemed(now: datetime.datetime) -> Figure:
    days = _week(now)
    today = days[-1].redeemed
    return Figure(
        value=today,
        text=f"{today:,}",
        note=f"{sum(day.redeemed for day in days):,} in 7 days",
        trend=tuple(day.redeemed for day in days),
    )


def _liability(now: datetime.datetime) -> Figure:
    # A sum over every day of every merchant's aggregates, a table that grows with both:
    # worked out once every few minutes (the aggregates are minutes behind already).
    totals = cache.get_or_set(LIABILITY_CACHE_KEY, provider_liability, LIABILITY_SECONDS)
    return Figure(value=None, money=totals, note="spendable and pending points, at value")


CARDS = [
    Card(
        key="money.issued",
        section="Money",
        title="Points issued today",
        meaning="Points members earned today across every merchant, pending ones "
        "included (from the report aggregates, a few minutes behind).",
        figure=_issued,
        link=LEDGER,
        query="kind__exact=earn",
        rights_of="loyalty.ledgerentry",
        tone="info",
    ),
    Card(
        key="money.redeemed",
        section="Money",
        title="Points redeemed today",
        meaning="Points members spent on rewards today, less those given back for rewards "
        "that could not be delivered.",
        figure=_redeemed,
        link=LEDGER,
        query="kind__exact=redeem",
        rights_of="loyalty.ledgerentry",
        tone="info",
    ),
    Card(
        key="money.liability",
        section="Money",
        title="Outstanding liability",
        meaning="What the points members hold are worth at their programs' point values, "
        "by currency: the merchants' obligation until the points are spent or expire.",
        figure=_liability,
        rights_of="loyalty.ledgerentry",
        tone="info",
    ),
]
