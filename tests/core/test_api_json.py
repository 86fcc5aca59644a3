"""The API's JSON parser and renderer (orjson) read and write exactly what DRF's own do."""

import datetime
import decimal
import io
import uuid
import zoneinfo

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import parsers, renderers
from rest_framework.exceptions import ErrorDetail, ParseError
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from core.api.parsers import JSONParser
from core.api.renderers import JSONRenderer
from loyalty.models import MemberStatus

UTC = datetime.UTC
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
LONDON = zoneinfo.ZoneInfo("Europe/London")

VALUES = [
    {"a": 1, "b": [1, 2.5, None, True, False], "c": "text"},
    {"at": datetime.datetime(2026, 11, 20, 14, 3, tzinfo=UTC)},
    {"at": datetime.datetime(2026, 11, 20, 14, 3, 0, 123456, tzinfo=UTC)},
    {"at": datetime.datetime(2026, 1, 20, 14, 3, tzinfo=LONDON)},
    {"at": datetime.datetime(2026, 7, 20, 14, 3, tzinfo=PARIS)},
    {"at": datetime.datetime(2026, 7, 20, 14, 3)},
    {"on": datetime.date(2026, 7, 20), "time": datetime.time(9, 30, 1, 5)},
    {"amount": decimal.Decimal("120.0000"), "rate": decimal.Decimal("1.25")},
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    ReturnDict({"x": ReturnList([1, 2], serializer=None)}, serializer=None),
    {"detail": ErrorDetail("This field is required.", code="required")},
    {"lazy": gettext_lazy("Invalid input.")},
    {"status": MemberStatus.ACTIVE},
    {"line": "a\u2028b\u2029c", "é": "ünïcode ✓", "ctl": '\x00\x1f\x7f\t\n"\\/'},
    {"big": 2**70, "neg": -(2**63)},
    {"set": {3}, "tuple": (1, "a")},
    [],
    {},
]


@pytest.mark.parametrize("value", VALUES)
def test_rendered_bytes_are_drfs(value):
    assert JSONRenderer().render(value) == renderers.JSONRenderer().render(value)


def test_an_indent_asked_for_is_honoured():
    value = {"a": [1, 2]}
    media_type = "application/json; indent=4"
    assert JSONRenderer().render(value, media_type) == renderers.JSONRenderer().render(
        value, media_type
    )


def test_nothing_renders_as_nothing():
    assert JSONRenderer().render(None) == b""


BODIES = [
    b'{"a": 1, "b": [1.5, -0, 1e3, "x"], "c": {"d": null, "e": true}}',
    b'{"a": 1, "a": 2}',
    b'{"n": 123456789012345678901234567890, "m": -9223372036854775809}',
    b'"\\ud83d\\ude00 and \\u00e9"',
    b'{"lone": "\\ud800"}',
    b"[1e400]",
    '{"é": "ü"}'.encode(),
]


@pytest.mark.parametrize("body", BODIES)
def test_parsed_values_are_drfs(body):
    assert JSONParser().parse(io.BytesIO(body)) == parsers.JSONParser().parse(io.BytesIO(body))


@pytest.mark.parametrize(
    "body", [b"{", b'{"a": NaN}', b"[Infinity]", b"\xef\xbb\xbf{}", b"{'a': 1}", b""]
)
def test_refused_bodies_get_drfs_message(body):
    with pytest.raises(ParseError) as ours:
        JSONParser().parse(io.BytesIO(body))
    with pytest.raises(ParseError) as drfs:
        parsers.JSONParser().parse(io.BytesIO(body))
    assert str(ours.value.detail) == str(drfs.value.detail)


def test_too_deep_a_body_is_refused():
    with pytest.raises(ParseError, match="nested too deeply"):
        JSONParser().parse(io.BytesIO(b"[" * 100_000 + b"]" * 100_000))
