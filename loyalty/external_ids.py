"""The form of a store's own ids (members, orders, refunds, activities)."""

import re

EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9._:@+=-]{1,128}$"
_EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)


def is_external_id(value: object) -> bool:
    return isinstance(value, str) and _EXTERNAL_ID.fullmatch(value) is not None
