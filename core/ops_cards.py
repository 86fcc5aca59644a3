"""The cards of the ops console's home: each one a figure of today's work (a queue that
needs a person, a health signal, a sum of money or points) with a link to the list behind
it. Each app declares its own cards (``ops_cards`` on its AppConfig, the dotted path of a
list of ``Card``), next to the data they count; the home and the sidebar's badges read
them all from here.

A card's figure must come from an indexed query or an aggregate, never a scan of a big
table: the home renders with a million members and ten million ledger entries."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from django.apps import apps
from django.utils.module_loading import import_string

from core.models import OpsCount
from core.site_time import site_today

Tone = Literal["attention", "danger", "info"]


@dataclass(frozen=True)
class Figure:
    """What a card shows: a count (``value``, also what the badge and the stored trend
    use), or sums of money by currency (``money``, written for the reader by the home),
    with an optional line under it. A card whose figure has its own history (read from
    the report aggregates) gives it as ``trend``, the last seven days' values, oldest
    first; the others' trends come from the daily counts the snapshot job keeps."""

    value: int | None
    text: str = ""
    note: str = ""
    money: dict[str, Decimal] = field(default_factory=dict)
    trend: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Card:
    key: str  # "fulfillment.stuck": stable, the trend's and the badge's name
    section: str  # the home's group, one of SECTIONS
    title: str
    meaning: str  # one sentence: what is counted and what to do about it
    figure: Callable[[datetime.datetime], Figure]
    # The list behind the figure: an admin URL name and its query string.
    link: str = ""
    query: str = ""
    # The model whose view right shows the card (the list it links to).
    rights_of: str = ""
    # How a non-zero count reads: a queue that needs someone (attention), one that is
    # already late (danger), or a plain figure (info).
    tone: Tone = "attention"
    # Whether the card's count is worth a badge on its sidebar entry.
    badge: bool = False


SECTIONS = ("Fulfillment", "Care", "Merchants", "Integrations", "Jobs", "Money")


def count(value: int, note: str = "") -> Figure:
    return Figure(value=value, text=f"{value:,}", note=note)


def all_cards() -> list[Card]:
    """Every app's cards, in the order of the sections and then of the apps."""
    cards = [
        card
        for app_config in apps.get_app_configs()
        if getattr(app_config, "ops_cards", None)
        for card in import_string(app_config.ops_cards)
    ]
    return sorted(cards, key=lambda card: SECTIONS.index(card.section))


def snapshot_counts(*, now: datetime.datetime) -> int:
    """Record each count card's figure as today's (the last snapshot of a day stands for
    it): one upsert, safe to run on several workers at once. Returns how many cards."""
    today = site_today(now)
    rows = [
        OpsCount(key=each.key, day=today, value=figure.value, taken_at=now)
        for each in all_cards()
        if (figure := each.figure(now)).value is not None and not figure.trend
    ]
    OpsCount.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["key", "day"],
        update_fields=["value", "taken_at"],
    )
    return len(rows)


def week_counts(keys: list[str], *, now: datetime.datetime) -> dict[str, dict]:
    """The snapshots of the six days before today, by card key and day."""
    today = site_today(now)
    counts: dict[str, dict] = {key: {} for key in keys}
    for key, day, value in OpsCount.objects.filter(
        key__in=keys, day__gte=today - datetime.timedelta(days=6), day__lt=today
    ).values_list("key", "day", "value"):
        counts[key][day] = value
    return counts


def card(key: str) -> Card:
    for each in all_cards():
        if each.key == key:
            return each
    raise LookupError(key)
