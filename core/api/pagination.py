"""The two ways the store API pages a list, with the schema of what they answer.

Lists that grow while a store reads them (a ledger, redemptions, tickets) page by cursor,
newest first; the rewards list, ordered by price, pages by number. ``page_size`` is 1 to
200 (50 when absent); any other value is a 400 naming it, never a silent default.
"""

from typing import Any

from rest_framework import serializers
from rest_framework.pagination import CursorPagination, PageNumberPagination

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def _page_size(request, param: str) -> int:
    raw = request.query_params.get(param)
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE_SIZE):
        raise serializers.ValidationError({param: [f"Give 1 to {MAX_PAGE_SIZE}."]})
    return int(raw)


def _page_size_parameter(param: str) -> dict[str, Any]:
    return {
        "name": param,
        "required": False,
        "in": "query",
        "description": f"Items per page: 1 to {MAX_PAGE_SIZE}, {DEFAULT_PAGE_SIZE} when absent.",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_PAGE_SIZE,
            "default": DEFAULT_PAGE_SIZE,
        },
    }


def _link(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "uri", "nullable": True, "description": description}


class _StrictPageSize:
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request) -> int:
        return _page_size(request, self.page_size_query_param)


class NewestFirstCursorPagination(_StrictPageSize, CursorPagination):
    ordering = ("-created_at", "-id")

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": _link("The next (older) page; null on the last one."),
                "previous": _link("The previous (newer) page; null on the first one."),
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: take it from `next` or `previous` of "
                "the page before; an unknown cursor is a 404.",
                "schema": {"type": "string"},
            },
            _page_size_parameter(self.page_size_query_param),
        ]


class NumberedPagination(_StrictPageSize, PageNumberPagination):
    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["count", "next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "minimum": 0, "description": "Items in all pages."},
                "next": _link("The next page; null on the last one."),
                "previous": _link("The previous page; null on the first one."),
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "The page, from 1; a page past the last is a 404.",
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            _page_size_parameter(self.page_size_query_param),
        ]
