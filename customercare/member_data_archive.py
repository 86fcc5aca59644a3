"""A member's data as a ZIP archive: ``data.json`` (``member_data_export`` whole) and one
CSV file a table (profile, ledger, orders, redemptions, tickets) made from that same
document, so the two never say different things.

The CSV files are UTF-8 with a byte-order mark (spreadsheets then read accents and
non-Latin names right). Every cell is text: points as whole numbers, amounts as the plain
decimals the document holds (never a float), times in ISO 8601, UTC. A cell a spreadsheet
would run as a formula starts with ``'`` (names, reasons and messages come from people)."""

import csv
import datetime
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from core.spreadsheet import spreadsheet_text

BOM = "\ufeff"

PROFILE_HEADER = [
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "country",
    "locale",
    "birthday",
    "marketing_consent",
    "status",
    "joined_at",
    "points_balance",
    "pending_points",
    "lifetime_points",
    "tier",
    "attributes",
]
LEDGER_HEADER = ["at", "kind", "points", "reason"]
ORDERS_HEADER = [
    "external_id",
    "placed_at",
    "total",
    "currency",
    "points_earned",
    "lines",
    "refunds",
]
REDEMPTIONS_HEADER = ["id", "reward", "points", "status", "created_at", "recipient"]
TICKETS_HEADER = [
    "reference",
    "subject",
    "status",
    "opened_at",
    "message_at",
    "message_from",
    "message",
]


def text(value: Any) -> str:
    """One cell: a time in ISO 8601 UTC, a yes/no, a number or text as it is."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)  # a negative number of points stays a number
    if isinstance(value, dict | list):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)
    return spreadsheet_text(str(value))


def _csv(header: list[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([text(value) for value in row])
    return out.getvalue().encode()


def profile_rows(data: dict[str, Any]) -> list[list[Any]]:
    profile, points = data["profile"], data["points"]
    return [
        [
            profile["external_id"],
            profile["email"],
            profile["phone"],
            profile["first_name"],
            profile["last_name"],
            profile["country"],
            profile["locale"],
            profile["birthday"],
            profile["marketing_consent"],
            profile["status"],
            profile["joined_at"],
            points["balance"],
            points["pending"],
            points["lifetime"],
            points["tier"],
            profile["attributes"] or {},
        ]
    ]


def ledger_rows(data: dict[str, Any]) -> list[list[Any]]:
    return [[e["at"], e["kind"], e["points"], e["reason"]] for e in data["ledger"]]


def order_rows(data: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            order["external_id"],
            order["placed_at"],
            order["total"],
            order["currency"],
            order["points_earned"],
            "; ".join(
                f"{line['sku']} x {line['quantity']} at {line['unit_price']}"
                for line in order["lines"]
            ),
            "; ".join(
                f"{refund['external_id']}: {refund['amount']}" for refund in order["refunds"]
            ),
        ]
        for order in data["orders"]
    ]


def redemption_rows(data: dict[str, Any]) -> list[list[Any]]:
    return [
        [r["id"], r["reward"], r["points"], r["status"], r["created_at"], r["recipient"]]
        for r in data["redemptions"]
    ]


def ticket_rows(data: dict[str, Any]) -> list[list[Any]]:
    """One row per public message; a ticket without one still has its row."""
    rows = []
    for ticket in data["tickets"]:
        head = [ticket["reference"], ticket["subject"], ticket["status"], ticket["opened_at"]]
        for message in ticket["messages"] or [None]:
            if message is None:
                rows.append([*head, None, None, None])
            else:
                rows.append([*head, message["at"], message["from"], message["body"]])
    return rows


FILES = [
    ("profile.csv", PROFILE_HEADER, profile_rows),
    ("ledger.csv", LEDGER_HEADER, ledger_rows),
    ("orders.csv", ORDERS_HEADER, order_rows),
    ("redemptions.csv", REDEMPTIONS_HEADER, redemption_rows),
    ("tickets.csv", TICKETS_HEADER, ticket_rows),
]


def archive_write(out: io.BufferedIOBase, data: dict[str, Any]) -> None:
    """Write the ZIP of ``data`` (a ``member_data_export`` document) to ``out``."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "data.json",
            json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        )
        for name, header, rows in FILES:
            archive.writestr(name, _csv(header, rows(data)))
