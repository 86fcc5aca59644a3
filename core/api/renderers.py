"""The API's JSON renderer: orjson, writing the bytes DRF's ``JSONRenderer`` writes
(compact, UTF-8, U+2028 and U+2029 escaped, datetimes, Decimals and the rest through
DRF's own encoder), and DRF's renderer itself for what orjson cannot write the same way
(an indent asked for in ``Accept``, integers beyond 64 bits)."""

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

# datetime, date and time go to DRF's encoder (``Z`` for UTC, its own precision), and so
# do dataclasses; str, int and dict subclasses are written as their base types, as json
# writes them.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_default = JSONEncoder().default


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            rendered = orjson.dumps(data, default=_default, option=_OPTIONS)
        except (orjson.JSONEncodeError, TypeError, ValueError):
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80\xa8" in rendered or b"\xe2\x80\xa9" in rendered:
            rendered = rendered.replace(b"\xe2\x80\xa8", b"\\u2028").replace(
                b"\xe2\x80\xa9", b"\\u2029"
            )
        return rendered
