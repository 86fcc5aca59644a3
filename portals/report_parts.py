"""What a report is shown with: each figure's definition, tables kept as raw values (what
the CSV writes: amounts with their currency, ratios as percentages with one decimal,
times in hours) and as text for people (what the page and the PDF show), and the
headline tiles with their comparison. The program's definitions are
``loyalty.reports.definitions``; ``DEFINITIONS`` below adds the rewards' and care's."""

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext_lazy as _

from core import formatting
from fulfillment.reports import Amount
from loyalty.reports.definitions import Definition, definitions
from portals import report_changes
from portals.exports import Money, Table

DEFINITIONS: dict[str, Definition] = {
    "redemptions": Definition(
        _("Redemptions"),
        _(
            "Rewards your members asked for in the period, whatever became of them "
            "(delivered, still on the way, or refunded)."
        ),
    ),
    "points_spent": Definition(
        _("Points spent on rewards"),
        _("The points of those redemptions, before any was given back."),
    ),
    "reward_value": Definition(
        _("Reward value"),
        _(
            "The face value of the rewards asked for, in your program's currency where the "
            "reward was bought in it or converted; otherwise in the reward's own currency."
        ),
    ),
    "rewards_refunded": Definition(
        _("Refunded redemptions"),
        _(
            "Redemptions of the period that could not be delivered or were cancelled; their "
            "points went back to the member."
        ),
    ),
    "fulfillment_time": Definition(
        _("Time to deliver"),
        _(
            "From the member's request to the reward's delivery, for the redemptions of the "
            "period delivered so far: the median (half were faster) and the 90th percentile "
            "(nine in ten were faster)."
        ),
    ),
    "tickets_opened": Definition(
        _("Tickets opened"), _("Care tickets your members (or our agents for them) opened.")
    ),
    "tickets_resolved": Definition(
        _("Tickets resolved"), _("Tickets whose resolution fell in the period.")
    ),
    "first_response": Definition(
        _("First response"),
        _(
            "From the ticket's opening to our agents' first public reply, for tickets opened "
            "in the period: median and 90th percentile."
        ),
    ),
    "resolution_time": Definition(
        _("Time to resolve"),
        _("From opening to resolution, for tickets opened in the period and resolved."),
    ),
    "csat": Definition(
        _("Customer satisfaction (CSAT)"),
        _(
            "Ratings from 1 to 5 given by members after a resolved ticket, in the period: the "
            "average, and the share of 4 or 5."
        ),
    ),
}


def definition(key: str) -> Definition:
    return DEFINITIONS.get(key) or definitions[key]


# -- tables: raw values for the CSV, text for people -------------------------------------------


@dataclass(frozen=True)
class Column:
    label: str
    # text, count, points, money, percent, hours, date, month
    kind: str = "text"


def _hours(value: datetime.timedelta | None) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(value.total_seconds()) / 3600).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _percent_number(ratio: Decimal | None) -> Decimal | None:
    if ratio is None:
        return None
    return (ratio * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)


def amounts_cell(values: Sequence[Amount]) -> object:
    if not values:
        return None
    if len(values) == 1:
        return Money(values[0].amount, values[0].currency)
    return "; ".join(f"{value.amount} {value.currency}" for value in values)


@dataclass(frozen=True)
class ReportTable:
    slug: str
    title: str
    keys: tuple[str, ...]  # the definitions it carries
    columns: tuple[Column, ...]
    rows: tuple[tuple[object, ...], ...]
    caption: str = ""

    @property
    def definitions(self) -> list[tuple[str, str]]:
        return [(str(definition(key).label), str(definition(key).how)) for key in self.keys]

    def csv_header(self) -> list[str]:
        header = []
        for column in self.columns:
            if column.kind == "money":
                header += [str(column.label), str(_("Currency"))]
            elif column.kind == "percent":
                header.append(f"{column.label} (%)")
            elif column.kind == "hours":
                header.append(f"{column.label} ({_('hours')})")
            else:
                header.append(str(column.label))
        return header

    def csv_rows(self) -> list[list[object]]:
        rows = []
        for row in self.rows:
            cells: list[object] = []
            for column, value in zip(self.columns, row, strict=True):
                if column.kind == "money":
                    # Two cells, amount and currency: amounts in several currencies are
                    # listed in the first, each with its code, and never added up.
                    if isinstance(value, Money):
                        cells.append(value)
                    else:
                        cells += [value, ""]
                elif column.kind == "percent":
                    cells.append(_percent_number(value))
                elif column.kind == "hours":
                    cells.append(_hours(value))
                elif column.kind in ("date", "month") and value is not None:
                    cells.append(value.isoformat())
                else:
                    cells.append(value)
            rows.append(cells)
        return rows

    def as_export(self, *, prefix: str) -> Table:
        return Table(
            filename=f"{prefix}-{self.slug}",
            definitions=self.definitions,
            header=self.csv_header(),
            rows=self.csv_rows(),
        )

    @property
    def display_rows(self) -> list[list[dict]]:
        return [
            [
                {"text": _text(column.kind, value), "numeric": column.kind != "text"}
                for column, value in zip(self.columns, row, strict=True)
            ]
            for row in self.rows
        ]


def _text(kind: str, value: object) -> str:
    if value is None:
        return formatting.MISSING
    if kind == "money":
        if isinstance(value, Money):
            return formatting.money(value.amount, value.currency)
        return str(value)
    if kind == "points" or kind == "count":
        return formatting.points(value)
    if kind == "percent":
        return formatting.percent(value)
    if kind == "hours":
        return formatting.duration(value)
    if kind == "date":
        return formatting.date(value)
    if kind == "month":
        return formatting.month(value)
    return str(value)


# -- tiles: a headline figure with its comparison ------------------------------------------


@dataclass(frozen=True)
class Tile:
    key: str
    value: str
    previous: str = ""
    change: str = ""
    direction: str = "none"
    note: str = ""

    @property
    def label(self) -> str:
        return str(definition(self.key).label)

    @property
    def how(self) -> str:
        return str(definition(self.key).how)


def tile(
    key: str,
    current: int | Decimal | None,
    previous: int | Decimal | None,
    show: Callable[[int | Decimal | None], str],
    *,
    note: str = "",
    compare: bool = True,
) -> Tile:
    if not compare:
        return Tile(key=key, value=show(current), note=note)
    return Tile(
        key=key,
        value=show(current),
        previous=show(previous),
        change=report_changes.change(current, previous),
        direction=formatting.change_direction(current, previous),
        note=note,
    )
