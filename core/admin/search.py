"""What the admin's searches share: a record's number as staff type it (``#12``, ``12``),
and a change list's search widened by one more match."""

from django.db.models import Q, QuerySet

# A number that fits a bigint primary key; a longer run of digits is no record's number.
MAX_NUMBER = 2**63 - 1


def record_number(term: str) -> int | None:
    """The record number ``term`` names (``#12``, ``# 12`` or ``12``); None otherwise."""
    text = term.strip().removeprefix("#").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= MAX_NUMBER else None


def search_also(found: QuerySet, queryset: QuerySet, also: Q | None) -> QuerySet:
    """A change list's search results (``found``, from ``ModelAdmin.get_search_results``)
    with the rows of ``queryset`` that ``also`` matches added."""
    if also is None:
        return found
    return found | queryset.filter(also)
