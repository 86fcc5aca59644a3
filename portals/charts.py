"""Charts drawn on the server as SVG with pygal, the same markup inlined in a portal page
and in the WeasyPrint PDF. Each chart has a data table beside it in the page (the caller
renders it); the SVG names itself (``role="img"``, ``<title>``, ``<desc>``).

What pygal writes and we take out, because the portal's Content-Security-Policy runs no
inline script or style (``config/settings``): its ``<script>`` (the tooltips' config),
its ``<style>`` block and the tooltip layer (a ``style`` attribute and ``<desc>`` texts
that only the script shows). The looks its stylesheet gave are written instead as SVG
presentation attributes (``fill``, ``stroke``, ``font-size``...), which are not styles
under CSP and which WeasyPrint and every browser draw the same. So a chart needs no
stylesheet, no font file (the system's sans-serif) and nothing from another host.

The chart scales to its container: the size is a ``viewBox`` only (no width or
height), so ``svg { width: 100%; height: auto }`` fits it to a 390 px phone, a 1440 px
screen or an A4 page. ``compact=True`` draws it for a narrow column (fewer labels, larger
type for its size).

The figures on the axes are written like everywhere else (``portals.formatting``):
thousands separators, the currency's decimals. pygal lays the chart out in floats; that
is geometry only, the figures people read come from the exact values.
"""

import datetime
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal
from xml.etree import ElementTree

import pygal
from babel.numbers import format_compact_currency, format_compact_decimal
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from core import formatting

Unit = Literal["points", "money", "percent", "count"]
Number = int | Decimal


@dataclass(frozen=True)
class Palette:
    """Colours of the design system. Text, series and axes keep at least 4.5:1 against
    the white background (WCAG AA for text); grid lines are decoration."""

    series: tuple[str, ...] = ("#1d4ed8", "#047857", "#b45309", "#7c3aed", "#be123c")
    previous: str = "#6b7280"
    young: str = "#b45309"
    text: str = "#1f2937"
    axis: str = "#4b5563"
    grid: str = "#e5e7eb"
    background: str = "#ffffff"
    font_family: str = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif'


PALETTE = Palette()

WIDE = (800, 360)
COMPACT = (420, 340)
TALL_ROW = 34  # viewBox units per bar of a horizontal bar chart


# -- labels -------------------------------------------------------------------------------


def value_formatter(
    unit: Unit, *, currency: str | None = None, locale: str | None = None
) -> Callable[[object], str]:
    """How the axis writes a figure of ``unit``: short (``€12.5K``, ``40K``, ``12.5%``) so
    the ticks never run into each other; the table beside the chart has the exact
    figures."""
    if unit == "money" and not currency:
        raise ValueError("A money chart needs its currency.")

    def write(value: object) -> str:
        if value is None:
            return formatting.MISSING
        exact = Decimal(str(value))
        if unit == "percent":
            return formatting.percent_short(exact, locale=locale)
        where = formatting.reader_locale(locale)
        if unit == "money":
            return format_compact_currency(exact, str(currency), locale=where, fraction_digits=1)
        return format_compact_decimal(exact, locale=where, fraction_digits=1)

    return write


# -- the SVG pygal writes, made fit for a strict CSP -----------------------------------------


def _classes(element: ElementTree.Element) -> set[str]:
    return set((element.get("class") or "").split())


def _local(element: ElementTree.Element) -> str:
    tag = element.tag
    return tag.split("}", 1)[1] if isinstance(tag, str) and "}" in tag else str(tag)


def _series_index(classes: set[str]) -> int | None:
    for name in classes:
        if name.startswith("color-") and name[6:].isdigit():
            return int(name[6:])
    return None


@dataclass(frozen=True)
class _Look:
    """How one chart is drawn: each series' colour, which are dashed, filled as an
    area or hollow; the type size; and the words that name it."""

    colours: tuple[str, ...]
    title: str
    description: str
    dashed: frozenset[int] = frozenset()
    area: frozenset[int] = frozenset()
    hollow: frozenset[int] = frozenset()
    font_size: int = 14


def _dropped(element: ElementTree.Element) -> bool:
    if not isinstance(element.tag, str):
        return True  # comments
    # pygal's own <title> ("Pygal" when the chart has none) and its tooltips' <desc>s:
    # the chart is named by ours.
    if _local(element) in ("script", "style", "desc", "title"):
        return True
    classes = _classes(element)
    if _local(element) == "rect" and "rect" in classes:
        # A stacked bar's empty slot: its outline would draw a stray line on the axis.
        return any(float(element.get(side) or 0) == 0 for side in ("width", "height"))
    return bool(classes & {"tooltip-overlay", "tooltip"})


def _restyle(root: ElementTree.Element, look: _Look, palette: Palette) -> ElementTree.Element:
    """Drop pygal's script, style and tooltips; write its looks as attributes; name the
    chart with ``role="img"``, a ``<title>`` and a ``<desc>``."""
    horizontal = "horizontal" in _classes(root)
    _walk(root, set(), look, palette, horizontal)
    marker = f"chart-{uuid.uuid4().hex[:12]}"
    title = ElementTree.Element("title", id=f"{marker}-title")
    title.text = look.title
    desc = ElementTree.Element("desc", id=f"{marker}-desc")
    desc.text = look.description
    root.insert(0, desc)
    root.insert(0, title)
    root.set("id", marker)
    root.set("class", "chart")
    root.set("role", "img")
    root.set("aria-labelledby", f"{marker}-title {marker}-desc")
    root.set("font-family", palette.font_family)
    return root


def _walk(
    element: ElementTree.Element,
    above: set[str],
    look: _Look,
    palette: Palette,
    horizontal: bool,
) -> None:
    inherited = above | _classes(element)
    for child in list(element):
        if _dropped(child):
            element.remove(child)
            continue
        child.attrib.pop("id", None)
        _restyle_one(child, inherited, look, palette, horizontal)
        _walk(child, inherited, look, palette, horizontal)


def _restyle_one(
    element: ElementTree.Element,
    above: set[str],
    look: _Look,
    palette: Palette,
    horizontal: bool,
) -> None:
    name, own = _local(element), _classes(element)
    every = own | above
    element.attrib.pop("style", None)
    if name == "text":
        element.set("fill", palette.axis if "axis" in above else palette.text)
        element.set("stroke", "none")
        element.set("font-size", str(look.font_size + (2 if "title" in own else 0)))
        anchor = None
        if own & {"no_data", "centered", "title"}:
            anchor = "middle"
        elif "axis" in above and "x" in above:
            anchor = "start" if element.get("transform") else "middle"
        elif "axis" in above and "y" in above:
            anchor = "end"
        if anchor:
            element.set("text-anchor", anchor)
        return
    if name not in ("path", "rect", "circle", "line"):
        return
    if "background" in own:
        element.set("fill", palette.background)
        element.set("stroke", "none")
        return
    if "axis" in above and ("guide" in own or "line" in own):
        element.set("fill", "none")
        element.set("stroke", palette.grid if "guide" in own else palette.axis)
        element.set("stroke-width", "1")
        # As pygal's stylesheet: no guides along the category axis.
        if "guide" in own and ("y" if horizontal else "x") in above:
            element.set("stroke-opacity", "0")
        return
    index = _series_index(every)
    if index is None:
        return
    colour = look.colours[index % len(look.colours)]
    element.set("stroke", colour)
    if "nofill" in own or ("line" in own and index not in look.area):
        element.set("fill", "none")
    elif "line" in own:
        element.set("fill", colour)
        element.set("fill-opacity", "0.12")
    elif index in look.hollow:
        element.set("fill", palette.background)
    else:
        element.set("fill", colour)
    element.set("stroke-width", "2.5" if "line" in own else "1.5")
    if "line" in own:
        element.set("stroke-linejoin", "round")
    # The legend's box of a dashed line is solid: a dashed square reads as a cross.
    if index in look.dashed and ("legend" not in above or index in look.hollow):
        element.set("stroke-dasharray", "6 4")


def _markup(chart: pygal.graph.graph.Graph, look: _Look, palette: Palette) -> SafeString:
    chart.add_xml_filter(lambda root: _restyle(root, look, palette))
    # Serialised by ElementTree from our texts and pygal's: every text node is escaped.
    return mark_safe(chart.render(is_unicode=True))  # noqa: S308


def _config(
    *, size: tuple[int, int], look: _Look, palette: Palette, **extra: object
) -> dict[str, object]:
    width, height = size
    return {
        "js": [],
        "css": [],
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": width,
        "height": height,
        "no_prefix": True,
        "show_dots": False,
        "margin": 12,
        "spacing": 10,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 2,
        "legend_box_size": look.font_size,
        "truncate_legend": -1,
        "truncate_label": -1,
        "no_data_text": _("No data for this period"),
        **extra,
    }


def _fit_style(look: _Look) -> pygal.style.Style:
    """pygal lays text out by these sizes; the colours come from ``_restyle``."""
    size = look.font_size
    return pygal.style.Style(
        font_family="sans-serif",
        label_font_size=size,
        major_label_font_size=size,
        legend_font_size=size,
        title_font_size=size + 2,
        value_font_size=size,
        value_label_font_size=size,
        no_data_font_size=size + 4,
        colors=look.colours,
    )


def _number(value: Number | None) -> float | None:
    # pygal's geometry is float; see the module's note.
    return None if value is None else float(value)


# -- the charts -------------------------------------------------------------------------------


def daily_chart(
    *,
    title: str,
    description: str,
    days: Sequence[datetime.date],
    values: Sequence[Number | None],
    series_label: str,
    previous: Sequence[Number | None] | None = None,
    previous_label: str = "",
    unit: Unit = "points",
    currency: str | None = None,
    locale: str | None = None,
    area: bool = True,
    compact: bool = False,
    palette: Palette = PALETTE,
) -> SafeString:
    """A line (an area when ``area``) of one figure per day, with the previous period's
    figures, day for day, as a second, dashed and grey series. ``previous`` is aligned by
    position (the first day of each period together) and may be shorter."""
    if len(values) != len(days):
        raise ValueError("One value per day.")
    look = _Look(
        colours=(palette.series[0], palette.previous),
        title=title,
        description=description,
        dashed=frozenset({1}),
        area=frozenset({0} if area else set()),
        font_size=16 if compact else 14,
    )
    size = COMPACT if compact else WIDE
    labels = [formatting.day(day, locale=locale) for day in days]
    chart = pygal.Line(
        **_config(
            size=size,
            look=look,
            palette=palette,
            style=_fit_style(look),
            fill=area,
            x_labels=labels,
            x_labels_major_count=4 if compact else 7,
            show_minor_x_labels=False,
            x_label_rotation=0,
            y_labels_major_every=None,
            show_x_guides=False,
            show_y_guides=True,
            include_x_axis=True,
            # Room for the last day's label, centred on the chart's right edge.
            margin_right=40 if compact else 32,
            min_scale=3,
            max_scale=6 if compact else 8,
            value_formatter=value_formatter(unit, currency=currency, locale=locale),
            show_legend=previous is not None,
        )
    )
    chart.add(series_label, [_number(value) for value in values])
    if previous is not None:
        points = [_number(value) for value in list(previous)[: len(days)]]
        points += [None] * (len(days) - len(points))
        chart.add(previous_label or _("Previous period"), points, fill=False)
    if not any(value for value in values) and not (previous and any(v for v in previous)):
        # pygal would draw an empty axis; say so instead.
        chart = _empty(size, look, palette)
    return _markup(chart, look, palette)


def _empty(size: tuple[int, int], look: _Look, palette: Palette) -> pygal.Graph:
    """A frame that says there is nothing to draw (pygal would draw a bare 0-1 axis)."""
    return pygal.Bar(
        **_config(
            size=size,
            look=look,
            palette=palette,
            style=_fit_style(look),
            show_y_labels=False,
            show_y_guides=False,
            show_legend=False,
        )
    )


def bar_chart(
    *,
    title: str,
    description: str,
    rows: Sequence[tuple[str, Number]],
    series_label: str,
    unit: Unit = "count",
    currency: str | None = None,
    locale: str | None = None,
    limit: int = 10,
    compact: bool = False,
    palette: Palette = PALETTE,
) -> SafeString:
    """Horizontal bars, one a row (by reward, by country, by tier), the largest first;
    past ``limit`` rows the rest are summed into one "Other" bar."""
    ordered = sorted(rows, key=lambda row: row[1], reverse=True)
    if len(ordered) > limit:
        rest = sum((value for _, value in ordered[limit - 1 :]), start=type(ordered[0][1])(0))
        ordered = [*ordered[: limit - 1], (_("Other"), rest)]
    look = _Look(
        colours=(palette.series[0],),
        title=title,
        description=description,
        font_size=16 if compact else 14,
    )
    width = (COMPACT if compact else WIDE)[0]
    height = max(len(ordered), 3) * TALL_ROW + 90
    write = value_formatter(unit, currency=currency, locale=locale)
    chart = pygal.HorizontalBar(
        **_config(
            size=(width, height),
            look=look,
            palette=palette,
            style=_fit_style(look),
            show_legend=False,
            print_values=False,
            show_y_guides=True,
            show_x_guides=False,
            min_scale=3,
            max_scale=4 if compact else 8,
            margin_right=24,
            value_formatter=write,
        )
    )
    # pygal draws the first label at the bottom: reverse so the largest is on top.
    shown = list(reversed(ordered))
    chart.x_labels = [_shortened(label, 18 if compact else 32) for label, _ in shown]
    chart.add(series_label, [_number(value) for _, value in shown])
    if not ordered:
        chart = _empty((width, height), look, palette)
    return _markup(chart, look, palette)


def _shortened(label: str, most: int) -> str:
    return label if len(label) <= most else label[: most - 1].rstrip() + "…"


@dataclass(frozen=True)
class Cohort:
    """One bar of the cohort chart: a month's figure, and whether the cohort is still
    young (its points may yet be spent, so its figure will move)."""

    month: datetime.date
    value: Number | None
    young: bool = False


def cohort_chart(
    *,
    title: str,
    description: str,
    cohorts: Sequence[Cohort],
    settled_label: str,
    young_label: str,
    unit: Unit = "percent",
    currency: str | None = None,
    locale: str | None = None,
    compact: bool = False,
    palette: Palette = PALETTE,
) -> SafeString:
    """Vertical bars by issue month (breakage by cohort): settled cohorts solid, young
    ones hollow with a dashed outline in another colour, each kind named in the legend."""
    look = _Look(
        colours=(palette.series[0], palette.young),
        title=title,
        description=description,
        dashed=frozenset({1}),
        hollow=frozenset({1}),
        font_size=16 if compact else 14,
    )
    size = COMPACT if compact else WIDE
    # Stacked, with each month in one of the two series: one centred bar a month.
    chart = pygal.StackedBar(
        **_config(
            size=size,
            look=look,
            palette=palette,
            style=_fit_style(look),
            x_labels=[formatting.month(c.month, locale=locale, short=True) for c in cohorts],
            x_labels_major_count=4 if compact else 12,
            show_minor_x_labels=len(cohorts) <= (4 if compact else 12),
            x_label_rotation=0,
            show_x_guides=False,
            min_scale=3,
            max_scale=6,
            value_formatter=value_formatter(unit, currency=currency, locale=locale),
            show_legend=True,
        )
    )
    chart.add(settled_label, [None if c.young else _number(c.value) for c in cohorts])
    chart.add(young_label, [_number(c.value) if c.young else None for c in cohorts])
    if not any(cohort.value for cohort in cohorts):
        chart = _empty(size, look, palette)
    return _markup(chart, look, palette)
