"""A segment's definition: what a marketer may write, checked before it is saved.

Stored as JSON with a version::

    {"version": 1,
     "groups": [{"conditions": [{"field": "spend", "op": "gte", "value": "500",
                                 "window": {"last_days": 365}},
                                {"field": "tier", "op": "in", "value": [3]}]},
                {"conditions": [{"field": "days_since_last_order", "op": "gte",
                                 "value": 90}]}]}

Groups are AND'ed, the conditions inside a group OR'ed (Klaviyo's and Open Loyalty's
convention); ``"negate": true`` turns one condition around. A definition with no groups
matches every member.

Each field has its kind of value and its operators (``FIELDS``). Windows are the
merchant's local days: ``{"last_days": N}`` is today and the N-1 days before it,
``{"from": "2026-01-01", "to": "2026-03-31"}`` both days included; no window means ever.
Amounts are in the program's currency, as strings. A condition whose meaning moves with
the calendar (a ``last_days`` window, age, days since the last order, "member for the
last N days", an attribute date within the last N days) makes the segment time-relative.

Pure: the caller passes what the merchant has (tiers, other segments, attributes) as a
``Context``; no ORM. ``definition_clean`` answers the normalised definition or raises
``InvalidDefinition`` naming the first offending place (``groups.0.conditions.1.value``).
"""

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from core.exceptions import DomainError
from loyalty.attributes import AttributeSpec

VERSION = 1
MAX_GROUPS = 10
MAX_CONDITIONS = 10
MAX_LIST = 200
MAX_DAYS = 3650
MAX_AMOUNT = Decimal("9999999999.9999")
MAX_COUNT = 1_000_000_000_000


class InvalidDefinition(DomainError):
    code = "invalid_segment"
    status = 400
    title = "The segment's definition is not valid."


# What a value is, per field: how ``_value`` checks it.
COUNT = "count"  # a whole number >= 0
AMOUNT = "amount"  # a decimal string >= 0 (program currency)
POINTS = "points"  # a whole number >= 0
BOOL = "boolean"
DATE = "date"
DAYS = "days"  # a whole number of days, 1..MAX_DAYS
YEARS = "years"  # an age in whole years, 0..150
SCORE = "score"  # an RFM score, 1..5
COUNTRIES = "countries"  # a list of ISO 3166 alpha-2 codes
TEXTS = "texts"  # a list of texts
TIERS = "tiers"  # a list of the program's tier ids
SEGMENT = "segment"  # another segment of the merchant, by id

NUMBER_OPS = ("eq", "gte", "lte", "between")
DATE_OPS = ("before", "after", "between", "within_last_days", "at_least_days_ago")


@dataclass(frozen=True)
class Field:
    label: str
    value: str
    ops: tuple[str, ...]
    window: bool = False  # takes a window
    relative: bool = False  # its meaning moves with the calendar whatever the window
    extra: tuple[str, ...] = ()  # other keys the condition carries


FIELDS: dict[str, Field] = {
    "country": Field("Country", COUNTRIES, ("in",)),
    "locale": Field("Language", TEXTS, ("in", "starts_with")),
    "age": Field("Age (years)", YEARS, NUMBER_OPS, relative=True),
    "marketing_consent": Field("Accepts marketing", BOOL, ("is",)),
    "member_since": Field("Member since", DATE, DATE_OPS),
    "tier": Field("Tier", TIERS, ("in", "none")),
    "points_balance": Field("Points balance", POINTS, NUMBER_OPS),
    "lifetime_points": Field("Lifetime points", POINTS, NUMBER_OPS),
    "orders_count": Field("Number of orders", COUNT, NUMBER_OPS, window=True),
    "spend": Field("Amount spent (net of refunds)", AMOUNT, NUMBER_OPS, window=True),
    "average_order_value": Field("Average order value", AMOUNT, NUMBER_OPS, window=True),
    "days_since_last_order": Field("Days since the last order", COUNT, NUMBER_OPS, relative=True),
    "bought": Field(
        "Bought a product or category", TEXTS, ("any",), window=True, extra=("categories",)
    ),
    "activities": Field("Activities done", COUNT, NUMBER_OPS, window=True, extra=("kinds",)),
    "redemptions": Field("Rewards redeemed", COUNT, NUMBER_OPS, window=True),
    "referrals": Field("Friends referred", COUNT, NUMBER_OPS, window=True),
    "rfm_recency": Field("RFM recency score", SCORE, NUMBER_OPS),
    "rfm_frequency": Field("RFM frequency score", SCORE, NUMBER_OPS),
    "rfm_monetary": Field("RFM monetary score", SCORE, NUMBER_OPS),
    "segment": Field("Member of segment", SEGMENT, ("in",)),
    "attribute": Field("CRM attribute", "", (), extra=("attribute",)),
}

OP_LABELS = {
    "in": "is one of",
    "starts_with": "starts with",
    "is": "is",
    "none": "has none",
    "eq": "equals",
    "gte": "at least",
    "lte": "at most",
    "between": "between",
    "before": "before",
    "after": "after",
    "within_last_days": "within the last N days",
    "at_least_days_ago": "N or more days ago",
    "any": "any of",
    "contains": "contains",
    "is_set": "is set",
}

# Operators of a CRM attribute, by its type; the value is of the attribute's type
# (``between``: two of them, ``is_set``: true or false, the two day ops: a number of days).
ATTRIBUTE_OPS: dict[str, tuple[str, ...]] = {
    "text": ("eq", "contains", "starts_with", "is_set"),
    "number": ("eq", "gte", "lte", "between", "is_set"),
    "date": ("before", "after", "between", "within_last_days", "at_least_days_ago", "is_set"),
    "boolean": ("is", "is_set"),
    "choice": ("in", "is_set"),
}


@dataclass(frozen=True)
class Context:
    """What the merchant has, for the checks that look beyond the definition itself."""

    tier_ids: frozenset[int] = frozenset()
    # Other segments of the merchant: id -> the segment ids its own definition names (for
    # the cycle check). The segment being saved is left out, or is ``self_id``.
    segments: Mapping[int, frozenset[int]] = field(default_factory=dict)
    self_id: int | None = None
    attributes: Mapping[str, AttributeSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    last_days: int | None = None
    start: datetime.date | None = None  # ``from``
    end: datetime.date | None = None  # ``to``, included


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any
    negate: bool = False
    window: Window | None = None
    attribute: str = ""
    categories: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    @property
    def relative(self) -> bool:
        spec = FIELDS[self.field]
        return (
            spec.relative
            or (self.window is not None and self.window.last_days is not None)
            or self.op in ("within_last_days", "at_least_days_ago")
        )


@dataclass(frozen=True)
class Definition:
    groups: tuple[tuple[Condition, ...], ...]

    @property
    def relative(self) -> bool:
        """Whether who matches can change by the calendar alone."""
        return any(c.relative for group in self.groups for c in group)

    def segment_ids(self) -> frozenset[int]:
        return frozenset(
            sid for group in self.groups for c in group if c.field == "segment" for sid in c.value
        )

    def as_json(self) -> dict:
        return {
            "version": VERSION,
            "groups": [
                {"conditions": [_condition_json(c) for c in group]} for group in self.groups
            ],
        }


def _condition_json(c: Condition) -> dict:
    data: dict[str, Any] = {"field": c.field, "op": c.op, "value": _json_value(c.value)}
    if c.attribute:
        data["attribute"] = c.attribute
    if c.categories:
        data["categories"] = list(c.categories)
    if c.kinds:
        data["kinds"] = list(c.kinds)
    if c.window is not None:
        if c.window.last_days is not None:
            data["window"] = {"last_days": c.window.last_days}
        else:
            data["window"] = {"from": c.window.start.isoformat(), "to": c.window.end.isoformat()}
    if c.negate:
        data["negate"] = True
    return data


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


def _fail(where: str, message: str) -> InvalidDefinition:
    if not where:
        return InvalidDefinition(message[:1].upper() + message[1:], field="definition")
    return InvalidDefinition(f"{where}: {message}", field=f"definition.{where}")


def _ops_text(what: str, ops: tuple[str, ...]) -> str:
    return f"{what} takes " + ", ".join(f"“{OP_LABELS[op]}”" for op in ops) + "."


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, "give a whole number.")
    if not low <= value <= high:
        raise _fail(where, f"give a number from {low} to {high}.")
    return value


def _amount(value: Any, where: str) -> Decimal:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _fail(where, 'give an amount as a string, e.g. "49.90".')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise _fail(where, 'give an amount, e.g. "49.90".') from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise _fail(where, "give an amount of 0 or more.")
    if amount.as_tuple().exponent < -4:
        raise _fail(where, "at most 4 decimal places.")
    return amount


def _date(value: Any, where: str) -> datetime.date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise _fail(where, "give a date as YYYY-MM-DD.")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise _fail(where, "that date does not exist.") from None


def _texts(value: Any, where: str, *, upper: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(where, "give a list of one or more values.")
    if len(value) > MAX_LIST:
        raise _fail(where, f"at most {MAX_LIST} values.")
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or len(item) > 128:
            raise _fail(where, "each value is a text of 1 to 128 characters.")
        out.append(item.strip().upper() if upper else item.strip())
    return tuple(dict.fromkeys(out))


def _ids(
    value: Any, where: str, known: frozenset[int] | Mapping[int, Any], what: str
) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(where, f"give a list of one or more {what} ids.")
    out = []
    for item in value[: MAX_LIST + 1]:
        if isinstance(item, bool) or not isinstance(item, int):
            raise _fail(where, f"{what} ids are whole numbers.")
        if item not in known:
            raise _fail(where, f"no {what} {item} in this program.")
        out.append(item)
    if len(value) > MAX_LIST:
        raise _fail(where, f"at most {MAX_LIST} values.")
    return tuple(dict.fromkeys(out))


def _scalar(kind: str, value: Any, where: str) -> Any:
    if kind == COUNT:
        return _int(value, where, 0, MAX_COUNT)
    if kind == POINTS:
        return _int(value, where, 0, MAX_COUNT)
    if kind == DAYS:
        return _int(value, where, 1, MAX_DAYS)
    if kind == YEARS:
        return _int(value, where, 0, 150)
    if kind == SCORE:
        return _int(value, where, 1, 5)
    if kind == AMOUNT:
        return _amount(value, where)
    if kind == DATE:
        return _date(value, where)
    raise _fail(where, "unknown kind of value.")


def _compared(kind: str, op: str, value: Any, where: str) -> Any:
    """The value of a comparison of ``kind``: one value, or (low, high) for between,
    or a number of days for the day operators."""
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise _fail(where, "give two values: [from, to].")
        low = _scalar(kind, value[0], f"{where}.0")
        high = _scalar(kind, value[1], f"{where}.1")
        if low > high:
            raise _fail(where, "the first value is after the second.")
        return (low, high)
    if op in ("within_last_days", "at_least_days_ago"):
        return _int(value, where, 1, MAX_DAYS)
    return _scalar(kind, value, where)


def _window(data: Any, where: str) -> Window:
    if not isinstance(data, dict):
        raise _fail(where, 'give {"last_days": N} or {"from": date, "to": date}.')
    if set(data) == {"last_days"}:
        return Window(last_days=_int(data["last_days"], f"{where}.last_days", 1, MAX_DAYS))
    if set(data) == {"from", "to"}:
        start = _date(data["from"], f"{where}.from")
        end = _date(data["to"], f"{where}.to")
        if start > end:
            raise _fail(where, "from is after to.")
        if (end - start).days > MAX_DAYS * 3:
            raise _fail(where, "a window of at most 30 years.")
        return Window(start=start, end=end)
    raise _fail(where, 'give {"last_days": N} or {"from": date, "to": date}.')


def _attribute_value(spec: AttributeSpec, op: str, value: Any, where: str) -> Any:
    if op == "is_set":
        if not isinstance(value, bool):
            raise _fail(where, "give true or false.")
        return value
    if spec.type == "number":

        def one(v: Any, w: str) -> Any:
            if isinstance(v, bool) or not isinstance(v, int | float | str):
                raise _fail(w, "give a number.")
            try:
                number = Decimal(str(v))
            except InvalidOperation:
                raise _fail(w, "give a number.") from None
            if not number.is_finite() or abs(number) > MAX_AMOUNT:
                raise _fail(w, "give a number.")
            return number

        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                raise _fail(where, "give two values: [from, to].")
            low, high = one(value[0], f"{where}.0"), one(value[1], f"{where}.1")
            if low > high:
                raise _fail(where, "the first value is after the second.")
            return (low, high)
        return one(value, where)
    if spec.type == "date":
        return _compared(DATE, op, value, where)
    if spec.type == "boolean":
        if not isinstance(value, bool):
            raise _fail(where, "give true or false.")
        return value
    if spec.type == "choice":
        values = _texts(value, where)
        unknown = [v for v in values if v not in spec.choices]
        if unknown:
            raise _fail(where, f"{unknown[0]!r} is not one of {', '.join(spec.choices)}.")
        return values
    if not isinstance(value, str) or not value or len(value) > 500:
        raise _fail(where, "give a text of 1 to 500 characters.")
    return value


def _condition(data: Any, where: str, context: Context) -> Condition:
    if not isinstance(data, dict):
        raise _fail(where, "each condition is an object with field, op and value.")
    name = data.get("field")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise _fail(f"{where}.field", f"give one of {', '.join(FIELDS)}.")
    allowed = {"field", "op", "value", "negate", *spec.extra} | (
        {"window"} if spec.window else set()
    )
    extra = sorted(set(data) - allowed)
    if extra:
        raise _fail(f"{where}.{extra[0]}", f"{name} takes no {extra[0]}.")
    negate = data.get("negate", False)
    if not isinstance(negate, bool):
        raise _fail(f"{where}.negate", "give true or false.")
    op = data.get("op")
    value = data.get("value")
    attribute = ""
    if name == "attribute":
        attribute = data.get("attribute")
        attr = context.attributes.get(attribute) if isinstance(attribute, str) else None
        if attr is None:
            raise _fail(f"{where}.attribute", "not an attribute of this merchant.")
        ops = ATTRIBUTE_OPS[attr.type]
        if op not in ops:
            raise _fail(f"{where}.op", _ops_text(f"a {attr.type} attribute", ops))
        value = _attribute_value(attr, op, value, f"{where}.value")
    else:
        if op not in spec.ops:
            raise _fail(f"{where}.op", _ops_text(spec.label, spec.ops))
        value = _field_value(name, spec, op, value, f"{where}.value", context)
    window = _window(data["window"], f"{where}.window") if data.get("window") is not None else None
    categories: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    if name == "bought":
        categories = (
            _texts(data["categories"], f"{where}.categories")
            if data.get("categories") is not None
            else ()
        )
        if not value and not categories:
            raise _fail(f"{where}.value", "give SKUs, categories, or both.")
    if name == "activities":
        kinds = _texts(data.get("kinds"), f"{where}.kinds")
    return Condition(
        field=name,
        op=op,
        value=value,
        negate=negate,
        window=window,
        attribute=attribute,
        categories=categories,
        kinds=kinds,
    )


def _field_value(name: str, spec: Field, op: str, value: Any, where: str, context: Context) -> Any:
    kind = spec.value
    if kind == BOOL:
        if not isinstance(value, bool):
            raise _fail(where, "give true or false.")
        return value
    if kind == COUNTRIES:
        codes = _texts(value, where, upper=True)
        bad = [c for c in codes if not re.fullmatch(r"[A-Z]{2}", c)]
        if bad:
            raise _fail(where, f"{bad[0]!r} is not a two-letter country code.")
        return codes
    if kind == TEXTS:
        if name == "bought" and value in (None, []):
            return ()
        return _texts(value, where)
    if kind == TIERS:
        if op == "none":
            if value not in (None, True):
                raise _fail(where, "none takes no value.")
            return None
        return _ids(value, where, context.tier_ids, "tier")
    if kind == SEGMENT:
        ids = _ids(value, where, context.segments, "segment")
        if context.self_id is not None and _reaches(ids, context.self_id, context.segments):
            raise _fail(where, "a segment cannot contain itself, directly or through others.")
        return ids
    if kind == DATE and op in ("within_last_days", "at_least_days_ago"):
        return _int(value, where, 1, MAX_DAYS)
    return _compared(kind, op, value, where)


def _reaches(start: tuple[int, ...], target: int, graph: Mapping[int, frozenset[int]]) -> bool:
    seen: set[int] = set()
    stack = list(start)
    while stack:
        node = stack.pop()
        if node == target:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(graph.get(node, ()))
    return False


def definition_clean(data: Any, context: Context) -> Definition:
    """The definition, checked and normalised; ``InvalidDefinition`` otherwise."""
    if not isinstance(data, dict):
        raise _fail("", 'give an object: {"version": 1, "groups": [...]}.')
    version = data.get("version", VERSION)
    if version != VERSION:
        raise _fail("version", f"this server reads version {VERSION}.")
    extra = sorted(set(data) - {"version", "groups"})
    if extra:
        raise _fail(extra[0], "unknown key.")
    groups = data.get("groups", [])
    if not isinstance(groups, list):
        raise _fail("groups", "give a list of groups.")
    if len(groups) > MAX_GROUPS:
        raise _fail("groups", f"at most {MAX_GROUPS} groups.")
    out = []
    for g, group in enumerate(groups):
        where = f"groups.{g}"
        if not isinstance(group, dict) or set(group) != {"conditions"}:
            raise _fail(where, 'each group is {"conditions": [...]}.')
        conditions = group["conditions"]
        if not isinstance(conditions, list) or not conditions:
            raise _fail(f"{where}.conditions", "give one or more conditions.")
        if len(conditions) > MAX_CONDITIONS:
            raise _fail(f"{where}.conditions", f"at most {MAX_CONDITIONS} in a group.")
        out.append(
            tuple(
                _condition(c, f"{where}.conditions.{i}", context) for i, c in enumerate(conditions)
            )
        )
    return Definition(groups=tuple(out))
