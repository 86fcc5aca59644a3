import csv
import datetime
import io
import zipfile
from decimal import Decimal

import pytest

from portals.exports import Money, Table, cell, csv_response, safe_filename, zip_response

DEFINITIONS = [("Points issued", "points credited in the period"), ("Value", "at face value")]


def _read(content: bytes) -> tuple[list[str], list[list[str]]]:
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig")
    head, _, body = text.partition("\r\n\r\n")
    return head.split("\r\n"), list(csv.reader(io.StringIO(body)))


def test_csv_has_bom_definitions_blank_line_header_and_rows():
    response = csv_response(
        filename="rewards",
        definitions=DEFINITIONS,
        header=["Reward", "Redemptions", "Value", "Currency", "Day"],
        rows=[
            ["Café gift card", 3, Money(Decimal("75.0000"), "EUR"), datetime.date(2026, 3, 1)],
            ["Sushi", 1, Money(Decimal("1200.0000"), "JPY"), datetime.date(2026, 3, 2)],
            ["Dinar", 1, Money(Decimal("1.2345"), "KWD"), None],
        ],
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="rewards.csv"'
    assert "no-store" in response["Cache-Control"]
    definitions, rows = _read(response.content)
    assert definitions == [
        "# Points issued: points credited in the period",
        "# Value: at face value",
    ]
    assert rows == [
        ["Reward", "Redemptions", "Value", "Currency", "Day"],
        ["Café gift card", "3", "75.00", "EUR", "2026-03-01"],
        ["Sushi", "1", "1200", "JPY", "2026-03-02"],
        ["Dinar", "1", "1.235", "KWD", ""],
    ]


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\r=1"])
def test_text_a_spreadsheet_would_run_is_quoted(text):
    assert cell(text) == "'" + text
    response = csv_response(filename="x", definitions=[], header=["Name"], rows=[[text]])
    _, rows = _read(b"\xef\xbb\xbf\r\n\r\n" + response.content[3:])
    assert rows[1][0] == "'" + text


def test_numbers_stay_numbers_even_when_negative():
    assert cell(-5) == "-5"
    assert cell(Decimal("-12.50")) == "-12.50"
    assert cell(Decimal("1E+3")) == "1000"
    assert cell(True) == "yes"
    assert cell(datetime.timedelta(hours=1, seconds=5)) == "3605"


def test_a_float_is_refused():
    with pytest.raises(TypeError):
        cell(1.5)


def test_a_definition_spanning_lines_stays_one_comment_line():
    response = csv_response(
        filename="x", definitions=[("A", "first\nsecond")], header=["h"], rows=[]
    )
    definitions, rows = _read(response.content)
    assert definitions == ["# A: first second"]
    assert rows == [["h"]]


def test_without_definitions_the_header_comes_first():
    response = csv_response(filename="x", definitions=[], header=["h"], rows=[[1]])
    assert response.content.decode("utf-8-sig") == "h\r\n1\r\n"


def test_cells_with_commas_quotes_and_newlines_round_trip():
    response = csv_response(
        filename="x", definitions=[], header=["Note"], rows=[['He said "hi", then\nleft']]
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1] == ['He said "hi", then\nleft']


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("points 2026-03.csv", "points-2026-03.csv"),
        ('evil"; filename="x.exe', "evil-filename-x.exe.csv"),
        ("../../etc/passwd", "etc-passwd.csv"),
        ("rapport-é-2026", "rapport-e-2026.csv"),
        ("", "report.csv"),
        ("\r\nSet-Cookie: a=b", "Set-Cookie-a-b.csv"),
    ],
)
def test_filenames_are_safe_in_a_header(name, safe):
    assert safe_filename(name, extension="csv") == safe
    response = csv_response(filename=name, definitions=[], header=["h"], rows=[])
    assert response["Content-Disposition"] == f'attachment; filename="{safe}"'


def test_zip_bundles_the_tables_and_a_readme_of_definitions():
    response = zip_response(
        filename="report March",
        readme="The figures of March 2026.",
        tables=[
            Table(
                "members", [("Members", "enrolled at the end of the day")], ["Day", "N"], [[1, 2]]
            ),
            Table(
                "rewards.csv",
                DEFINITIONS,
                ["Reward", "Value", "Currency"],
                [["=cmd", Money(Decimal("5"), "USD")]],
            ),
        ],
    )
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="report-March.zip"'
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(bundle.namelist()) == ["README.txt", "members.csv", "rewards.csv"]
    _, rows = _read(bundle.read("rewards.csv"))
    assert rows == [["Reward", "Value", "Currency"], ["'=cmd", "5.00", "USD"]]
    readme = bundle.read("README.txt").decode("utf-8")
    assert readme.startswith("The figures of March 2026.")
    assert "members.csv" in readme
    assert "Members: enrolled at the end of the day" in readme
    assert "Points issued: points credited in the period" in readme


def test_zip_refuses_two_tables_with_one_name():
    with pytest.raises(ValueError, match="its own file name"):
        zip_response(
            filename="x",
            tables=[Table("a", [], ["h"], []), Table("a.csv", [], ["h"], [])],
        )
