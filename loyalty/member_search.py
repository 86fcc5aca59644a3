"""Finding a member by the phone number staff type, whatever way the store sent it.

A store sends a member's phone as its customer gave it (``+33 6 12 34 56 78``,
``06.12.34.56.78``, ``+33612345678``): the API asks for E.164 but keeps what it gets. So a
search compares digits only (``phone_digits``, the number without its separators) and
matches on the end of the number, the national number that every way of writing it
shares (``phone_search_digits``). On PostgreSQL a trigram index on ``phone_digits()``
serves that suffix match (migration ``0020_search_indexes``): the expression here and the
index's are one, so changing it needs a new index."""

import contextlib
import re

import phonenumbers
from django.db.models import F, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Replace

# What the API's phone pattern allows beside digits (loyalty.api.serializers.PHONE_PATTERN).
PHONE_SEPARATORS = (" ", "(", ")", ".", "-", "+")
PHONE_TERM = re.compile(r"\+?[0-9][0-9 ().-]*")
# Fewer digits than a national number are no phone: they would match thousands of members.
MIN_DIGITS = 6
MAX_DIGITS = 15  # E.164's longest


def phone_digits(field: str = "phone") -> Combinable:
    """The member's phone without its separators, as an expression (and index) of the
    database: REPLACE calls, the same on PostgreSQL and SQLite."""
    expression: Combinable = F(field)
    for separator in PHONE_SEPARATORS:
        expression = Replace(expression, Value(separator), Value(""))
    return expression


def phone_search_digits(term: str) -> str | None:
    """The digits a stored phone ends with when it is the number ``term`` names: the
    national number of ``+33 6 12 34 56 78`` (``612345678``), the digits of
    ``06 12 34 56 78`` without the trunk zero. None when ``term`` is no phone number."""
    text = term.strip()
    if not PHONE_TERM.fullmatch(text):
        return None
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        # With no country code known, every digit typed is compared.
        with contextlib.suppress(phonenumbers.NumberParseException):
            digits = str(phonenumbers.parse(text, None).national_number)
    else:
        digits = digits.lstrip("0")
    return digits if MIN_DIGITS <= len(digits) <= MAX_DIGITS else None
