"""A merchant's CRM attributes: the schema a member's ``attributes`` follow, and the
check of a member's values against it.

Each attribute has a name (what stores send: ``favourite_store``), a label, a type and
whether it is personal data (erasing a member clears those). The types, and what a
value of each is in the JSON a store sends:

- ``text``: a string of 500 characters at most;
- ``number``: a number (not a boolean), finite;
- ``date``: an ISO date string, ``2026-03-14``;
- ``boolean``: ``true`` or ``false``;
- ``choice``: one of the attribute's choices (strings).

``null`` removes the attribute from the member. An attribute the schema does not name is
refused, naming it; a merchant with no schema yet keeps free-form attributes (so stores
already sending some keep working until ops define the schema).

Pure: no ORM."""

import datetime
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from core.exceptions import DomainError

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
TEXT_MAX = 500
TYPES = ("text", "number", "date", "boolean", "choice")


class InvalidAttribute(DomainError):
    code = "invalid_attribute"
    status = 400
    title = "An attribute does not fit the merchant's attribute schema."


@dataclass(frozen=True)
class AttributeSpec:
    name: str
    label: str
    type: str
    choices: tuple[str, ...] = ()
    is_personal: bool = False


def _fail(name: str, message: str) -> InvalidAttribute:
    return InvalidAttribute(f"{name}: {message}", field=f"attributes.{name}", attribute=name)


def attribute_value_clean(spec: AttributeSpec, value: object) -> object:
    """The value as stored, or ``InvalidAttribute`` naming the attribute."""
    name = spec.name
    if spec.type == "text":
        if not isinstance(value, str):
            raise _fail(name, "give a text.")
        if len(value) > TEXT_MAX:
            raise _fail(name, f"at most {TEXT_MAX} characters.")
        return value
    if spec.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(name, "give a number.")
        if isinstance(value, float) and not math.isfinite(value):
            raise _fail(name, "give a finite number.")
        return value
    if spec.type == "date":
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise _fail(name, "give a date as YYYY-MM-DD.")
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise _fail(name, "that date does not exist.") from None
        return value
    if spec.type == "boolean":
        if not isinstance(value, bool):
            raise _fail(name, "give true or false.")
        return value
    if spec.type == "choice":
        if not isinstance(value, str) or value not in spec.choices:
            raise _fail(name, f"give one of {', '.join(spec.choices)}.")
        return value
    raise _fail(name, "the schema gives it an unknown type.")


def attributes_clean(specs: Mapping[str, AttributeSpec], values: Mapping) -> dict:
    """``values`` checked against the schema ``specs`` (by name): each value as stored,
    ``null`` ones left out. With no schema, the values as they are."""
    if not specs:
        return dict(values)
    cleaned = {}
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None:
            raise _fail(str(name)[:40], "not an attribute of this merchant.")
        if value is None:
            continue
        cleaned[name] = attribute_value_clean(spec, value)
    return cleaned


def attributes_kept_on_erasure(specs: Mapping[str, AttributeSpec], values: Mapping) -> dict:
    """What erasing a member keeps of their attributes: those the schema says are not
    personal data (anything it does not name is treated as personal)."""
    return {
        name: value
        for name, value in values.items()
        if name in specs and not specs[name].is_personal
    }
