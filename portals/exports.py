"""CSV downloads of the portal's reports, one table a file, or several in a ZIP.

The file, as a spreadsheet opens it:

- UTF-8 with a byte-order mark. Excel opens a CSV without one in the machine's legacy
  code page (Windows-1252 and the like), which garbles every accent, ``€`` and non-Latin
  name; with the mark it reads UTF-8. LibreOffice, Numbers, pandas and Python's
  ``utf-8-sig`` read it too.
- First the definitions of the figures, one a line as ``# Label: text``, then a blank
  line, then the header row and the rows. A reader skips the ``#`` lines (pandas'
  ``comment="#"``) or reads them.
- Amounts are an amount column and a currency column beside it: the amount a plain
  decimal with the currency's own decimals (``387.00`` EUR, ``1200`` JPY, ``1.235`` KWD),
  rounded half-up as the pages round it (``core.money``), never a thousands separator,
  never a float, so a sheet sums it. Pass a ``Money``.
- Cells a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return) start with ``'`` instead (OWASP's advice on CSV injection):
  names and notes come from the stores and their members. Numbers are written by this
  module, never from text, so a negative amount stays a number.

Filenames keep to letters, digits, ``-``, ``_`` and ``.``, so a ``Content-Disposition``
header can never be broken by them.
"""

import csv
import datetime
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TextIO

from django.http import HttpResponse

from core.money import quantize_money
from core.spreadsheet import spreadsheet_text

BOM = "\ufeff"
CSV_TYPE = "text/csv; charset=utf-8"
ZIP_TYPE = "application/zip"


@dataclass(frozen=True)
class Money:
    """An amount and its currency: written as two cells (amount, currency)."""

    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Table:
    """One CSV of a bundle: its file name, the figures' definitions, header and rows."""

    filename: str
    definitions: list[tuple[str, str]]
    header: list[str]
    rows: Iterable[Sequence[object]]


def safe_filename(name: str, *, extension: str) -> str:
    """``name`` reduced to ``[A-Za-z0-9._-]`` (accents dropped, at most 100 characters) with
    ``extension``: safe in a ``Content-Disposition`` header and in any file system."""
    stem = name.rsplit(".", 1)[0] if name.lower().endswith("." + extension) else name
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem)
    stem = re.sub(r"-{2,}", "-", stem).strip(".-_")[:100] or "report"
    return f"{stem}.{extension}"


def cell(value: object) -> str:
    """One cell as text: numbers plain, dates ISO, text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        raise TypeError("Figures are int or Decimal, never float.")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(int(value.total_seconds()))
    return spreadsheet_text(str(value))


def _cells(row: Sequence[object]) -> list[str]:
    cells: list[str] = []
    for value in row:
        if isinstance(value, Money):
            cells += [f"{quantize_money(value.amount, value.currency):f}", value.currency]
        else:
            cells.append(cell(value))
    return cells


def csv_text(
    *, definitions: list[tuple[str, str]], header: list[str], rows: Iterable[Sequence[object]]
) -> str:
    """The CSV as text (without the byte-order mark)."""
    out = io.StringIO()
    csv_write(out, definitions=definitions, header=header, rows=rows)
    return out.getvalue()


def csv_write(
    out: TextIO,
    *,
    definitions: list[tuple[str, str]],
    header: list[str],
    rows: Iterable[Sequence[object]],
) -> None:
    """Write the CSV (without the byte-order mark) to ``out`` as the rows come: a file
    of a million members never sits in memory whole."""
    for label, text in definitions:
        # One line each: a newline in a definition would start a data line.
        line = " ".join(f"# {label}: {text}".split())
        out.write(line + "\r\n")
    if definitions:
        out.write("\r\n")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(name) for name in header])
    for row in rows:
        writer.writerow(_cells(row))


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # A report is the merchant's data: never kept by a shared cache.
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def csv_response(
    *,
    filename: str,
    definitions: list[tuple[str, str]],
    header: list[str],
    rows: Iterable[Sequence[object]],
) -> HttpResponse:
    """A CSV download. ``header`` names every column, an amount's two included
    (``"Value", "Currency"``); a row gives a ``Money`` for the pair."""
    body = BOM + csv_text(definitions=definitions, header=header, rows=rows)
    response = HttpResponse(body.encode("utf-8"), content_type=CSV_TYPE)
    return _attachment(response, safe_filename(filename, extension="csv"))


def zip_response(*, filename: str, tables: Sequence[Table], readme: str = "") -> HttpResponse:
    """Several CSVs in one ZIP, with a ``README.txt`` of every table's definitions
    (after ``readme``, an opening paragraph). Two tables may not share a file name."""
    names = [safe_filename(table.filename, extension="csv") for table in tables]
    if len(set(names)) != len(names):
        raise ValueError("Each table needs its own file name.")
    buffer = io.BytesIO()
    notes = [readme.strip(), ""] if readme.strip() else []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, table in zip(names, tables, strict=True):
            body = csv_text(definitions=table.definitions, header=table.header, rows=table.rows)
            bundle.writestr(name, (BOM + body).encode("utf-8"))
            notes.append(name)
            notes += [f"  {label}: {text}" for label, text in table.definitions] or ["  -"]
            notes.append("")
        bundle.writestr("README.txt", "\r\n".join(notes).encode("utf-8"))
    response = HttpResponse(buffer.getvalue(), content_type=ZIP_TYPE)
    return _attachment(response, safe_filename(filename, extension="zip"))
