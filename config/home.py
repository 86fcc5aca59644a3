"""The ops console's home: today's work, as the cards every app declares
(``core.ops_cards``), grouped by section, each with its figure, its week and the list
behind it. A staff user sees the cards of the lists they may open."""

import datetime
from dataclasses import dataclass
from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from config.navigation import model_admin_for
from core import formatting
from core.jobs import scheduled_job_status
from core.ops_cards import SECTIONS, Card, Figure, all_cards, week_counts

SPARK_WIDTH, SPARK_HEIGHT = 112, 28


@dataclass(frozen=True)
class ShownCard:
    card: Card
    figure: Figure
    url: str
    text: str
    spark: str  # the SVG polyline's points, "" without a trend
    trend_words: str

    @property
    def alert(self) -> bool:
        return bool(self.figure.value) and self.card.tone in {"attention", "danger"}


def visible(site: AdminSite, request: HttpRequest, card: Card) -> bool:
    model_admin = model_admin_for(site, card.rights_of)
    return bool(model_admin and model_admin.has_view_or_change_permission(request))


def card_url(site: AdminSite, card: Card) -> str:
    if not card.link:
        return ""
    url = reverse(card.link, current_app=site.name)
    return f"{url}?{card.query}" if card.query else url


def spark_points(values: tuple[int, ...]) -> str:
    """The polyline of a week's values, scaled into the sparkline's box (a flat line in
    the middle when every value is the same)."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    step = SPARK_WIDTH / (len(values) - 1)
    points = []
    for index, value in enumerate(values):
        share = 0.5 if high == low else (value - low) / (high - low)
        y = SPARK_HEIGHT - 2 - share * (SPARK_HEIGHT - 4)
        points.append(f"{index * step:.1f},{y:.1f}")
    return " ".join(points)


def _text(figure: Figure) -> str:
    if figure.money:
        return " · ".join(
            formatting.money(amount, currency) for currency, amount in sorted(figure.money.items())
        ) or formatting.money(0, "EUR")
    return figure.text or (f"{figure.value:,}" if figure.value is not None else "—")


def figure_of(request: HttpRequest, card: Card, now: datetime.datetime) -> Figure:
    """A card's figure, computed once a request: the home's cards and the sidebar's badges
    (counted again on the page where their minute is up) read the same figures."""
    figures = request.__dict__.setdefault("_ops_figures", {})
    if card.key not in figures:
        figures[card.key] = card.figure(now)
    return figures[card.key]


def shown(
    site: AdminSite,
    request: HttpRequest,
    card: Card,
    now: datetime.datetime,
    week: dict[datetime.date, int],
) -> ShownCard:
    """A card with its figure and its week: the figure's own history, or the days'
    snapshots (``core.snapshot_ops_cards``) and today's figure."""
    figure = figure_of(request, card, now)
    trend = figure.trend
    if not trend and figure.value is not None:
        trend = (*(week[day] for day in sorted(week)), figure.value)
    return ShownCard(
        card=card,
        figure=figure,
        url=card_url(site, card),
        text=_text(figure),
        spark=spark_points(trend),
        trend_words=", ".join(f"{value:,}" for value in trend),
    )


@dataclass(frozen=True)
class JobLine:
    name: str
    url: str
    outcome: str
    started: str
    duration: str
    alert: bool


def job_lines(site: AdminSite, now: datetime.datetime) -> list[JobLine]:
    """Every scheduled job with its last run."""
    zone = timezone.get_current_timezone()
    jobs = scheduled_job_status(now=now)
    return [
        JobLine(
            name=job.name,
            url=reverse(
                "admin:django_celery_beat_periodictask_change",
                args=[job.periodic_task_id],
                current_app=site.name,
            ),
            outcome=("Overdue · " if job.overdue else "") + job.outcome,
            started=formatting.moment(job.started_at, zone),
            duration=formatting.duration(job.duration),
            alert=job.needs_attention,
        )
        for job in jobs
    ]


def home_sections(site: AdminSite, request: HttpRequest) -> list[dict[str, Any]]:
    now = timezone.now()
    cards = [card for card in all_cards() if visible(site, request, card)]
    weeks = week_counts([card.key for card in cards], now=now)
    sections = []
    for section in SECTIONS:
        of_section = [card for card in cards if card.section == section]
        if of_section:
            jobs = job_lines(site, now) if section == "Jobs" else []
            sections.append(
                {
                    "title": section,
                    "cards": [
                        shown(site, request, card, now, weeks[card.key]) for card in of_section
                    ],
                    "jobs": jobs,
                    "jobs_alert": [job for job in jobs if job.alert],
                    "jobs_fine": [job for job in jobs if not job.alert],
                }
            )
    return sections


def badges(site: AdminSite, request: HttpRequest) -> dict[str, int]:
    """The sidebar's badges: each badge card's count, by the model of the list it links
    to (only the cards this user sees; none for a count of 0)."""
    now = timezone.now()
    counts: dict[str, int] = {}
    for card in all_cards():
        if card.badge and visible(site, request, card):
            value = figure_of(request, card, now).value or 0
            if value:
                counts[card.rights_of] = counts.get(card.rights_of, 0) + value
    return counts
