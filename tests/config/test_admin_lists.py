"""Every list of the ops console, opened on the demo data, reads as figures for people: no
JSON shown as text, no decimal with more places than its currency has, no Python value
(``None``, ``True``) in a cell. (``test_admin_lists_browser.py`` checks that each fits
1440 px.)"""

import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.seeded_demo

# Currencies with three decimals (ISO 4217), and with none, by code and by the symbols
# Babel writes them with in English.
THREE_PLACES = ("KWD", "BHD", "OMR", "JOD", "TND", "LYD", "IQD")
NO_PLACES = ("JPY", "KRW", "¥", "₩", "ISK", "CLP", "VND")
# Columns whose figures are prices per unit or rates, exact by design (``unit_money``).
EXACT_COLUMNS = {"Point value", "Earn rate", "Per active member", "Per redemption", "Rate"}
DECIMAL = re.compile(r"\d\.(\d+)\b")
JSON_TEXT = re.compile(r'^\s*[\[{].*[\]}]\s*$|\{\s*"|\[\s*"|":\s')
PYTHON_TEXT = re.compile(r"^(None|True|False)$")


class ResultTable(HTMLParser):
    """The header texts and the rows' cell texts of the change list's table."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # inside #result_list
        self.section = ""
        self.cell: list[str] | None = None
        self.headers: list[str] = []
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table" and ("id", "result_list") in attrs:
            self.depth = 1
            return
        if not self.depth:
            return
        if tag == "table":
            self.depth += 1
        elif tag in {"thead", "tbody"}:
            self.section = tag
        elif tag == "tr" and self.section == "tbody":
            self.rows.append([])
        elif tag in {"td", "th"}:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if not self.depth:
            return
        if tag == "table":
            self.depth -= 1
        elif tag in {"td", "th"} and self.cell is not None:
            text = " ".join("".join(self.cell).split())
            if self.section == "thead":
                self.headers.append(text)
            elif self.rows:
                self.rows[-1].append(text)
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def changelists() -> list[str]:
    return sorted(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    )


def problems_in(headers: list[str], rows: list[list[str]]) -> list[str]:
    found = []
    for row in rows:
        # The checkbox column has no header text; align the cells on the right.
        named = dict(zip(reversed(headers), reversed(row), strict=False))
        for header, text in named.items():
            if JSON_TEXT.search(text):
                found.append(f"JSON in {header!r}: {text!r}")
            if PYTHON_TEXT.match(text):
                found.append(f"Python value in {header!r}: {text!r}")
            if header in EXACT_COLUMNS:
                continue
            for places in DECIMAL.findall(text):
                three = any(code in text for code in THREE_PLACES)
                if len(places) > 3 or (len(places) == 3 and not three):
                    found.append(f"{len(places)} decimals in {header!r}: {text!r}")
                if any(code in text for code in NO_PLACES):
                    found.append(f"decimals in a currency without them, {header!r}: {text!r}")
    return found


@pytest.mark.parametrize("url", changelists())
def test_every_list_shows_figures_for_people(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 200, url
    table = ResultTable()
    table.feed(response.content.decode())
    assert problems_in(table.headers, table.rows) == [], url


def test_the_checks_catch_raw_values():
    headers = ["Total", "Point value", "Scopes"]
    rows = [
        ["499.0000", "0.015", '["read", "write"]'],
        ["¥1,200.50", "$0.01", "None"],
        ["KWD1.500", "$0.005", "Read, Write"],
    ]
    found = problems_in(headers, rows)
    assert any("4 decimals in 'Total'" in problem for problem in found)
    assert any("JSON in 'Scopes'" in problem for problem in found)
    assert any("currency without them" in problem for problem in found)
    assert any("Python value in 'Scopes'" in problem for problem in found)
    assert not any("'Point value'" in problem for problem in found)
    assert not any("KWD" in problem for problem in found)
