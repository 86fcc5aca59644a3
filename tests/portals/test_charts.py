import datetime
import re
import shutil
import subprocess
from decimal import Decimal
from xml.etree import ElementTree

import pytest

from portals import charts

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [datetime.date(2026, 3, 1) + datetime.timedelta(days=n) for n in range(30)]


def _daily(**extra):
    arguments = {
        "title": "Points issued",
        "description": "Points issued each day, this period and the one before.",
        "days": DAYS,
        "values": [1000 * n for n in range(30)],
        "previous": [500 * n for n in range(30)],
        "series_label": "This period",
        "previous_label": "Previous period",
    }
    return charts.daily_chart(**(arguments | extra))


def _bars(**extra):
    arguments = {
        "title": "Redemptions by reward",
        "description": "How many of each reward were redeemed.",
        "rows": [("Gift card", 120), ("Voucher", 80), ("Donation", 15)],
        "series_label": "Redemptions",
    }
    return charts.bar_chart(**(arguments | extra))


def _cohorts(**extra):
    arguments = {
        "title": "Breakage by issue month",
        "description": "The share of each month's points never redeemed.",
        "cohorts": [
            charts.Cohort(datetime.date(2025, month, 1), Decimal("0.2"), young=month > 9)
            for month in range(1, 13)
        ],
        "settled_label": "Settled cohorts",
        "young_label": "Young cohorts (still open)",
    }
    return charts.cohort_chart(**(arguments | extra))


def _texts(root):
    return [text.strip() for text in root.itertext() if text.strip()]


ALL = [_daily, _bars, _cohorts]


@pytest.mark.parametrize("draw", ALL)
def test_a_chart_is_named_for_assistive_technology(draw):
    root = ElementTree.fromstring(draw())
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    # Only the chart's own title and description: pygal's ("Pygal", tooltips) are gone.
    assert len(root.findall(f".//{SVG}desc")) == 1
    assert len(root.findall(f".//{SVG}title")) == 1
    assert "Pygal" not in _texts(root)


@pytest.mark.parametrize("draw", ALL)
def test_a_chart_holds_under_the_portal_s_content_security_policy(draw):
    markup = draw()
    assert "<script" not in markup
    assert "<style" not in markup
    assert "style=" not in markup
    assert "href" not in markup
    assert "http://" not in markup.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in markup
    assert "<!--" not in markup


@pytest.mark.parametrize("draw", ALL)
def test_a_chart_scales_by_its_view_box(draw):
    root = ElementTree.fromstring(draw())
    assert re.fullmatch(r"0 0 \d+ \d+", root.get("viewBox"))
    assert root.get("width") is None
    assert root.get("height") is None


def test_two_charts_on_one_page_share_no_id():
    first, second = ElementTree.fromstring(_daily()), ElementTree.fromstring(_daily())
    ids = [e.get("id") for root in (first, second) for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)) == 6


def test_daily_chart_writes_the_previous_period_as_a_dashed_grey_series():
    root = ElementTree.fromstring(_daily())
    lines = [e for e in root.iter(f"{SVG}path") if "line" in (e.get("class") or "").split()]
    colours = {e.get("stroke"): e.get("stroke-dasharray") for e in lines}
    assert colours[charts.PALETTE.series[0]] is None
    assert colours[charts.PALETTE.previous] == "6 4"
    assert "Previous period" in _texts(root)


def test_axis_labels_are_written_for_people():
    texts = _texts(ElementTree.fromstring(_daily()))
    assert "Mar 1" in texts
    assert "20K" in texts
    money = _texts(
        ElementTree.fromstring(
            _bars(rows=[("France", Decimal("12345.50"))], unit="money", currency="EUR")
        )
    )
    assert any(text.startswith("€") and text.endswith("K") for text in money), money
    assert not any(re.search(r"\d\.\d{3,}", text) for text in money)


def test_percent_axis_labels_are_short_in_the_reader_s_locale():
    rows = [("UK", Decimal("0.125")), ("France", Decimal("0.5"))]
    texts = _texts(
        ElementTree.fromstring(_bars(rows=rows, unit="percent", locale="fr", compact=True))
    )
    assert "20\xa0%" in texts
    assert not any(text.endswith(",0\xa0%") for text in texts)


def test_bar_chart_puts_the_largest_on_top_and_sums_the_rest_into_other():
    rows = [(f"Reward {n}", n) for n in range(1, 16)]
    root = ElementTree.fromstring(_bars(rows=rows, limit=5))
    texts = _texts(root)
    labels = [t for t in texts if t.startswith("Reward") or t == "Other"]
    # pygal draws the labels from the bottom up.
    assert labels == ["Other", "Reward 12", "Reward 13", "Reward 14", "Reward 15"]


def test_long_labels_are_shortened_with_an_ellipsis():
    root = ElementTree.fromstring(_bars(rows=[("A" * 80, 3)]))
    assert any(text.endswith("…") and len(text) <= 32 for text in _texts(root))


def test_cohort_chart_draws_young_cohorts_hollow_and_dashed_in_another_colour():
    root = ElementTree.fromstring(_cohorts())
    bars = [e for e in root.iter(f"{SVG}rect") if "rect" in (e.get("class") or "").split()]
    settled = [e for e in bars if e.get("fill") == charts.PALETTE.series[0]]
    young = [e for e in bars if e.get("stroke") == charts.PALETTE.young]
    assert len(settled) == 9
    assert len(young) == 3
    assert all(e.get("stroke-dasharray") == "6 4" for e in young)
    assert all(e.get("fill") == charts.PALETTE.background for e in young)
    assert "Young cohorts (still open)" in _texts(root)


@pytest.mark.parametrize(
    "draw",
    [
        lambda: _daily(values=[0] * 30, previous=None),
        lambda: _bars(rows=[]),
        lambda: _cohorts(cohorts=[]),
    ],
)
def test_an_empty_chart_says_there_is_nothing(draw):
    assert "No data for this period" in _texts(ElementTree.fromstring(draw()))


def test_daily_chart_needs_one_value_per_day():
    with pytest.raises(ValueError, match="One value per day"):
        _daily(values=[1, 2])


def test_a_money_chart_needs_its_currency():
    with pytest.raises(ValueError, match="currency"):
        _bars(unit="money")


def test_titles_are_escaped():
    markup = _daily(title="<b>Points & more</b>")
    assert "<b>" not in markup
    root = ElementTree.fromstring(markup)
    assert root.find(f"{SVG}title").text == "<b>Points & more</b>"


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils (pdftotext)")
def test_weasyprint_draws_the_charts_into_a_pdf(tmp_path):
    weasyprint = pytest.importorskip("weasyprint")
    page = f"<html><body><h1>Report</h1>{_daily()}{_bars(compact=True)}{_cohorts()}</body></html>"
    pdf = tmp_path / "charts.pdf"
    weasyprint.HTML(string=page).write_pdf(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    # The chart's labels are text in the PDF, not an image of it.
    assert "Previous period" in text
    assert "Young cohorts" in text


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(one: str, two: str) -> float:
    light, dark = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize(
    "colour",
    [
        charts.PALETTE.text,
        charts.PALETTE.axis,
        charts.PALETTE.previous,
        charts.PALETTE.young,
        *charts.PALETTE.series,
    ],
)
def test_the_palette_s_text_and_series_colours_meet_wcag_aa_on_the_background(colour):
    assert _contrast(colour, charts.PALETTE.background) >= 4.5


def test_gaps_and_negative_days_are_drawn_without_error():
    root = ElementTree.fromstring(
        _daily(days=DAYS[:5], values=[-5, None, 0, 3, 7], previous=[1, 2], area=False)
    )
    lines = [e for e in root.iter(f"{SVG}path") if "line" in (e.get("class") or "").split()]
    assert lines
    assert all(e.get("fill") == "none" for e in lines)
    assert any(text.startswith("-") for text in _texts(root))
