"""List columns and read-only fields written for people, the same way on every admin page:

- money with its currency by Babel in the reader's language (``$387.00``, ``387,00 €``),
  never a raw ``Decimal`` with four places;
- points with thousands separators;
- a state as a coloured label in words (unfold's labels), not an internal code;
- a yes/no in words, where a red cross could read as a fault;
- a time in the current time zone, named, in one format;
- a related record as a link to its admin page.

Each helper returns a function for ``list_display`` or ``readonly_fields``, so an admin
names its column once: ``total_shown = money_column("total", currency="currency",
description="Total")``."""

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Model
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from unfold.decorators import display

from core import formatting

Tone = str  # unfold's label types: success, info, warning, danger, or "" for grey


def _attribute(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        if obj is None:
            return None
        obj = getattr(obj, part)
    return obj


def money_column(
    amount: str,
    *,
    currency: str,
    description: str,
    ordering: str | None = None,
) -> Callable[[Any], str]:
    """``amount`` (a field path) in the currency another field path names."""

    @display(description=description, ordering=ordering or amount)
    def column(model_admin: Any, obj: Any) -> str:
        value = _attribute(obj, amount)
        code = _attribute(obj, currency)
        if value is None or not code:
            return formatting.MISSING
        return formatting.money(value, code)

    return column


def points_column(
    field: str, *, description: str, signed: bool = False, ordering: str | None = None
) -> Callable[[Any], str]:
    @display(description=description, ordering=ordering or field)
    def column(model_admin: Any, obj: Any) -> str:
        return points_text(_attribute(obj, field), signed=signed)

    return column


points_text = formatting.signed_or_plain_points


def state_column(
    field: str,
    *,
    tones: dict[str, Tone],
    description: str,
    words: dict[str, str] | None = None,
    ordering: str | None = None,
) -> Callable[[Any], tuple[str, str]]:
    """A choices field as a label in words, coloured by ``tones`` (value → label type);
    ``words`` gives a list's short wording where the choice's own is a sentence."""

    @display(description=description, ordering=ordering or field, label=tones)
    def column(model_admin: Any, obj: Any) -> tuple[str, str]:
        value = _attribute(obj, field)
        if words and value in words:
            return value, words[value]
        owner = obj
        for part in field.split("__")[:-1]:
            owner = getattr(owner, part)
        return value, getattr(owner, f"get_{field.split('__')[-1]}_display")()

    return column


def yes_no_column(
    field: str,
    *,
    description: str,
    yes: str = "Yes",
    no: str = "No",
    yes_tone: Tone = "",
    no_tone: Tone = "",
) -> Callable[[Any], tuple[str, str]]:
    """A boolean in words, with a colour only where one of its values needs attention."""

    @display(description=description, ordering=field, label={"yes": yes_tone, "no": no_tone})
    def column(model_admin: Any, obj: Any) -> tuple[str, str]:
        return ("yes", yes) if _attribute(obj, field) else ("no", no)

    return column


def moment_column(
    field: str, *, description: str, ordering: str | None = None
) -> Callable[[Any], str]:
    """A timestamp in the current time zone, named: ``Dec 6, 2026, 10:42 AM UTC``."""

    @display(description=description, ordering=ordering or field)
    def column(model_admin: Any, obj: Any) -> str:
        return moment_text(_attribute(obj, field))

    return column


moment_text = formatting.moment_html


def admin_url(obj: Model | None) -> str:
    """The admin page of ``obj``, "" when it has none."""
    if obj is None:
        return ""
    meta = obj._meta
    try:
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def record_link(obj: Model | None, text: str | None = None) -> str:
    """``obj`` as a link to its admin page (its text alone when it has none)."""
    if obj is None:
        return formatting.MISSING
    url = admin_url(obj)
    text = str(obj) if text is None else text
    return format_html('<a href="{}">{}</a>', url, text) if url else text


def link_column(
    field: str,
    *,
    description: str,
    text: Callable[[Any], str] | None = None,
    ordering: str | None = None,
) -> Callable[[Any], str]:
    """The related record ``field`` names, as a link to its page; select it with the
    list (``list_select_related``) so a page of rows costs no query per row."""

    @display(description=description, ordering=ordering or field)
    def column(model_admin: Any, obj: Any) -> str:
        related = _attribute(obj, field)
        return record_link(related, text(related) if text and related is not None else None)

    return column


def truncated(text: str | None) -> str:
    """A long text cut to the column's width, its whole on hover (``title``)."""
    if not text:
        return formatting.MISSING
    return format_html('<span class="ops-truncate" title="{}">{}</span>', text, text)


def words_list(values: Iterable[Any], words: dict[str, str] | None = None) -> str:
    """A list as words separated by commas, each value named by ``words`` when given:
    ``Read, Write, Adjust points`` rather than ``["read", "write", "adjust"]``."""
    shown = [str((words or {}).get(value, value)) for value in values or []]
    return ", ".join(shown) if shown else formatting.MISSING
