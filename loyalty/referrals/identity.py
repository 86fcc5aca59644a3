"""Keys under which two customers count as the same person: the self-referral checks
compare an advocate's keys with their friend's. Pure functions, no ORM.

- **Email**: case does not matter anywhere. Mail providers that ignore dots in the local
  part (Gmail) or deliver ``name+anything`` to ``name`` (sub-addressing) make many
  addresses one mailbox: those are folded for the providers known to do it, and the
  provider's other domains (``googlemail.com``) are folded into its main one. Elsewhere
  a dot or a plus is part of the address.
- **Phone**: E.164 (``+33612345678``) as ``phonenumbers`` parses it, in the customer's
  country when the number has no country code; an unparsable number has no key.
- **Postal address**: the street lines, postal code and country, compared without case,
  accents, punctuation or repeated spaces (``12, Rue de l'Église`` is ``12 rue de l eglise``).
"""

import re
import unicodedata
from collections.abc import Sequence

import phonenumbers

# Domains whose mailboxes ignore dots in the local part, and their canonical domain.
DOTS_IGNORED = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
# Domains that deliver "name+tag@" to "name@" (sub-addressing with a plus).
PLUS_TAGS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "fastmail.com",
        "fastmail.fm",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "zoho.com",
        "yandex.ru",
        "yandex.com",
    }
)
_NOT_WORD = re.compile(r"[^\w]+")


def email_key(email: str) -> str | None:
    """The mailbox ``email`` reaches; None for an empty or malformed address."""
    local, at, domain = (email or "").strip().lower().rpartition("@")
    if not at or not local or not domain or "@" in local:
        return None
    domain = domain.rstrip(".")
    if domain in PLUS_TAGS:
        local = local.split("+", 1)[0]
    if domain in DOTS_IGNORED:
        local = local.replace(".", "")
        domain = DOTS_IGNORED[domain]
    if not local:
        return None
    return f"{local}@{domain}"


def phone_key(phone: str, country: str = "") -> str | None:
    """``phone`` in E.164, read in ``country`` (ISO 3166 alpha-2) when it has no country
    code; None when it is not a possible number."""
    if not (phone or "").strip():
        return None
    try:
        parsed = phonenumbers.parse(phone, (country or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_NOT_WORD.sub(" ", plain.casefold()).replace("_", " ").split())


def address_key(lines: Sequence[str], postal_code: str, country: str) -> str | None:
    """The street lines, postal code and country, folded; None without a street line."""
    street = " ".join(part for part in (_folded(line) for line in lines) if part)
    if not street:
        return None
    code = "".join((postal_code or "").split()).upper()
    return f"{(country or '').upper()}|{code}|{street}"
