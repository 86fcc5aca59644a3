"""The store API's JSON parser: orjson, with DRF's own parser for whatever orjson would
read differently, so a body means exactly what it meant before and an invalid body gets
the same 400."""

import io
import re

import orjson
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# orjson reads an integer beyond 64 bits as a float where Python's json keeps the int: a
# body with a run of 19 digits (in a number or a string) is left to json.
_LONG_DIGITS = re.compile(rb"\d{19}")
_UTF8 = frozenset({"utf-8", "utf8"})


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, read by orjson when it reads the body the same way; also
    refusing bodies nested too deeply to parse."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        body = stream.read()
        if encoding.lower() in _UTF8 and not _LONG_DIGITS.search(body):
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                pass  # DRF's parser says why, in its own words
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
