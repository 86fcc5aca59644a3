"""The admin's condition builder: a definition as rows of a form, and back.

A row is one condition in plain fields (its group's number, field, operator, a value
typed as text, a window); the value's text is read by the field's kind: lists are comma
separated, ``between`` takes two values ("10, 50"), yes/no for booleans, tiers and
segments by name or id. What the text cannot say is left to
``definition.definition_clean``, which names the row's place in its error.

Pure: the caller passes the merchant's tiers and segments by name."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loyalty.segments.definition import (
    BOOL,
    COUNTRIES,
    FIELDS,
    OP_LABELS,
    SEGMENT,
    TEXTS,
    TIERS,
    VERSION,
)

TRUE_WORDS = {"yes", "true", "1", "y"}
FALSE_WORDS = {"no", "false", "0", "n"}


@dataclass(frozen=True)
class Row:
    group: int
    field: str
    op: str
    value: str = ""
    attribute: str = ""
    extra: str = ""  # activity kinds, or the categories of "bought"
    last_days: int | None = None
    start: str = ""  # a window's first day, YYYY-MM-DD
    end: str = ""
    negate: bool = False


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _scalar(text: str) -> Any:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return text


def _by_name(text: str, ids: Mapping[str, int]) -> list[Any]:
    lowered = {name.lower(): pk for name, pk in ids.items()}
    values: list[Any] = []
    for part in _list(text):
        if part.isdigit():
            values.append(int(part))
        else:
            values.append(lowered.get(part.lower(), part))
    return values


def _bool(text: str) -> Any:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return text


def row_value(
    row: Row,
    attribute_types: Mapping[str, str],
    tiers: Mapping[str, int],
    segments: Mapping[str, int],
) -> Any:
    """The JSON value a row's text stands for."""
    if row.op == "between":
        parts = _list(row.value.replace(" and ", ","))
        return [_scalar(p) for p in parts]
    if row.op == "none":
        return None
    if row.field == "attribute":
        kind = attribute_types.get(row.attribute, "text")
        if row.op == "is_set" or kind == "boolean":
            return _bool(row.value)
        if kind == "choice":
            return _list(row.value)
        if kind == "number" or row.op in ("within_last_days", "at_least_days_ago"):
            return _scalar(row.value)
        return row.value.strip()
    kind = FIELDS[row.field].value if row.field in FIELDS else ""
    if kind == BOOL:
        return _bool(row.value)
    if kind in (COUNTRIES, TEXTS):
        return _list(row.value)
    if kind == TIERS:
        return _by_name(row.value, tiers)
    if kind == SEGMENT:
        return _by_name(row.value, segments)
    return _scalar(row.value)


def rows_definition(
    rows: list[Row],
    attribute_types: Mapping[str, str],
    tiers: Mapping[str, int],
    segments: Mapping[str, int],
) -> tuple[dict, list[tuple[int, int]]]:
    """The definition the rows make (groups in the order of their numbers), and for each
    row its place in it: (group index, condition index)."""
    numbers = sorted({row.group for row in rows})
    groups: list[list[dict]] = [[] for _ in numbers]
    places = []
    for row in rows:
        g = numbers.index(row.group)
        condition: dict[str, Any] = {
            "field": row.field,
            "op": row.op,
            "value": row_value(row, attribute_types, tiers, segments),
        }
        if row.field == "attribute":
            condition["attribute"] = row.attribute
        if row.field == "activities":
            condition["kinds"] = _list(row.extra)
        if row.field == "bought" and row.extra.strip():
            condition["categories"] = _list(row.extra)
        if row.last_days is not None:
            condition["window"] = {"last_days": row.last_days}
        elif row.start or row.end:
            condition["window"] = {"from": row.start, "to": row.end}
        if row.negate:
            condition["negate"] = True
        places.append((g, len(groups[g])))
        groups[g].append(condition)
    return {"version": VERSION, "groups": [{"conditions": c} for c in groups]}, places


def _text(value: Any, names: Mapping[int, str] | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(v, names) for v in value)
    if names is not None and isinstance(value, int) and value in names:
        return names[value]
    return str(value)


def definition_rows(
    data: dict, tier_names: Mapping[int, str], segment_names: Mapping[int, str]
) -> list[Row]:
    """A stored (valid) definition as rows, to edit it."""
    rows = []
    for g, group in enumerate(data.get("groups", []), start=1):
        for condition in group.get("conditions", []):
            field = condition["field"]
            names = tier_names if field == "tier" else segment_names if field == "segment" else None
            window = condition.get("window") or {}
            extra = condition.get("kinds") or condition.get("categories") or []
            rows.append(
                Row(
                    group=g,
                    field=field,
                    op=condition["op"],
                    value=_text(condition.get("value"), names),
                    attribute=condition.get("attribute", ""),
                    extra=", ".join(extra),
                    last_days=window.get("last_days"),
                    start=window.get("from", ""),
                    end=window.get("to", ""),
                    negate=bool(condition.get("negate")),
                )
            )
    return rows


def definition_text(
    data: dict, tier_names: Mapping[int, str], segment_names: Mapping[int, str]
) -> list[str]:
    """The definition in words, a line per group: for lists and the segment page."""
    lines = []
    for row_group in _grouped(definition_rows(data, tier_names, segment_names)):
        parts = []
        for row in row_group:
            label = row.attribute if row.field == "attribute" else FIELDS[row.field].label
            text = f"{label} {OP_LABELS.get(row.op, row.op)}"
            if row.value:
                text += f" {row.value}"
            if row.extra:
                text += f" ({row.extra})"
            if row.last_days is not None:
                text += f" in the last {row.last_days} days"
            elif row.start:
                text += f" from {row.start} to {row.end}"
            parts.append(f"not ({text})" if row.negate else text)
        lines.append(" or ".join(parts))
    return lines


def _grouped(rows: list[Row]) -> list[list[Row]]:
    groups: dict[int, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    return list(groups.values())
