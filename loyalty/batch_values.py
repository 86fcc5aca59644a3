"""Values on their way into a batch's statement (``loyalty.batch``): which pass to
psycopg as they are, a column of them as PostgreSQL's text form of an array, and the
``Returned`` markers of a gate's values inside them."""

import datetime
import functools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class Returned:
    """A value of the row a batch's gate wrote, as the gate left it (``field``). An
    inserted instance may hold one as a field's value, or inside a JSON field's value;
    once the batch ran, the instance holds the value itself."""

    field: str


def markers(value: Any, path: tuple[str, ...] = ()) -> Iterable[tuple[tuple[str, ...], str]]:
    """(path, field) of every ``Returned`` inside a JSON value."""
    if isinstance(value, Returned):
        yield path, value.field
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from markers(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from markers(item, (*path, str(index)))


def resolved(value: Any, returned: dict[str, Any]) -> Any:
    """``value`` with each ``Returned`` in it replaced by what the gate returned (None
    when ``returned`` is empty: the placeholder a JSON value is written with)."""
    if isinstance(value, Returned):
        return returned.get(value.field)
    if isinstance(value, dict):
        return {key: resolved(item, returned) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved(item, returned) for item in value]
    return value


# Values that Django's preparation for the database (``get_db_prep_save``) returns as they
# are on PostgreSQL, by the field's internal type: they skip it (a good share of the cost
# of writing a large batch). Anything else, None included, goes through it.
_INTEGER = frozenset(
    (
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "ForeignKey",
        "IntegerField",
        "OneToOneField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
    )
)
_TEXT = frozenset(("CharField", "EmailField", "SlugField", "TextField"))


def _is_integer(value: Any) -> bool:
    return type(value) is int


def _is_text(value: Any) -> bool:
    return type(value) is str


def _is_aware_datetime(value: Any) -> bool:
    return type(value) is datetime.datetime and value.tzinfo is not None


def _is_bool(value: Any) -> bool:
    return type(value) is bool


@functools.cache
def as_is_test(field: Any) -> Callable[[Any], bool] | None:
    internal = field.get_internal_type()
    if internal in _INTEGER and (
        not field.is_relation or field.target_field.get_internal_type() in _INTEGER
    ):
        return _is_integer
    if internal in _TEXT:
        return _is_text
    if internal == "DateTimeField":
        return _is_aware_datetime
    if internal == "BooleanField":
        return _is_bool
    return None


def _array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        return "t" if value else "f"
    elif isinstance(value, int | Decimal):
        return str(value)
    elif isinstance(value, datetime.date | datetime.time | uuid.UUID):
        text = value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
    elif isinstance(value, Jsonb) and value.dumps is not None:
        dumped = value.dumps(value.obj)
        text = dumped.decode() if isinstance(dumped, bytes) else dumped
    else:
        raise TypeError(type(value))
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def array_literal(values: Iterable[Any]) -> Any:
    """A column of values as PostgreSQL's text form of an array (cast in the statement),
    built here in one pass: psycopg's array dumper quotes element by element with a
    regular expression, a fifth of the CPU of writing a large batch. A value of a type
    not handled here leaves the column to psycopg, as a list."""
    values = list(values)
    try:
        return "{" + ",".join(map(_array_element, values)) + "}"
    except TypeError:
        return values
