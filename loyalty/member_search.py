"""Finding a member by the phone number staff type, whatever way the store sent it.

A store sends a member's phone as its customer gave it (``+33 6 12 34 56 78``,
``06.12.34.56.78``, ``+33612345678``): the API asks for E.164 but keeps what it gets. So a
search compares digits only (``phone_digits``, the number without its separators) and
matches on the end of the number, the national number that every way of writing it
shares (``phone_search_digits``). On PostgreSQL a trigram index on ``phone_digits()``
serves that suffix match (migration ``0020_search_indexes``): the expression here and the
index's are one, so changing it needs a new index.

The member list's search (``member_search_results``) reads a term the same way, beside
the starts of the external id, email and last name."""

import contextlib
import re

import phonenumbers
from django.db.models import F, Q, QuerySet, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Replace

from merchants.models import Merchant

# What the API's phone pattern allows beside digits (loyalty.api.serializers.PHONE_PATTERN).
PHONE_SEPARATORS = (" ", "(", ")", ".", "-", "+")
PHONE_TERM = re.compile(r"\+?[0-9][0-9 ().-]*")
# Fewer digits than a national number are no phone: they would match thousands of members.
MIN_DIGITS = 6
MAX_DIGITS = 15  # E.164's longest
# A word that starts the slugs of more merchants than this is too short to name one.
MAX_MERCHANTS = 20


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


def member_search_results(queryset: QuerySet, term: str) -> tuple[QuerySet, bool]:
    """The member list's search (``MemberAdmin.get_search_results``): every word of
    ``term`` (a phone typed with spaces is one) must start the member's external id, email
    or last name, end their phone's digits (``phone_search_digits``) or start their
    merchant's slug. Starts, not substrings: each is one index range across a million
    members on PostgreSQL (the ``UPPER(col)`` ``text_pattern_ops`` btrees of migrations
    0020 and 0021, the phone digits' trigram index), where a substring reads every row.
    The merchants a word names are looked up first (a small table), so no join spoils the
    members' index scans. Returns the rows and whether they may repeat (never: there is
    no join)."""
    text = " ".join(term.split())
    if not text:
        return queryset, False
    # A phone typed with spaces (``06 12 34 56 78``) is one number, not five words.
    words = [text] if " " in text and phone_search_digits(text) else text.split()
    queryset = queryset.alias(phone_digits_only=phone_digits())
    for word in words:
        matches = (
            Q(external_id__istartswith=word)
            | Q(email__istartswith=word)
            | Q(last_name__istartswith=word)
        )
        digits = phone_search_digits(word)
        if digits is not None:
            matches |= Q(phone_digits_only__endswith=digits)
        merchants = list(
            Merchant.objects.filter(slug__istartswith=word)
            .order_by()
            .values_list("pk", flat=True)[:MAX_MERCHANTS]
        )
        if merchants:
            matches |= Q(merchant_id__in=merchants)
        queryset = queryset.filter(matches)
    return queryset, False
