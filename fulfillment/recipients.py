"""Delivery details a reward needs (``Reward.recipient_fields``), checked per country.
Pure: no ORM.

A phone number is read as the delivery country reads it (a national "020 7946 0958" is
a London number when the reward is delivered in GB), must be a valid number of that
country by libphonenumber's metadata, and is kept in E.164 (``+442079460958``): the
supplier texts the code to it, and a supplier in one country texts only that country's
numbers.
"""

import re
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

PHONE_MAX_LENGTH = 32  # room for "+44 (0)20 7946 0958" and the like, spaces and all
# Postal codes of the countries the provider ships to most; elsewhere any 2-12 characters.
POSTAL_CODES = {
    "US": r"[0-9]{5}(-[0-9]{4})?",
    "CA": r"[A-Za-z][0-9][A-Za-z] ?[0-9][A-Za-z][0-9]",
    "GB": r"[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}",
    "FR": r"[0-9]{5}",
    "DE": r"[0-9]{5}",
    "IT": r"[0-9]{5}",
    "ES": r"[0-9]{5}",
    "NL": r"[0-9]{4} ?[A-Za-z]{2}",
    "JP": r"[0-9]{3}-?[0-9]{4}",
    "AU": r"[0-9]{4}",
    "NZ": r"[0-9]{4}",
    "NO": r"[0-9]{4}",
    "KW": r"[0-9]{5}",
}
ANY_POSTAL_CODE = r"[A-Za-z0-9 -]{2,12}"
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")
REQUIRED_ADDRESS_FIELDS = ("name", "line1", "city", "country")
NO_POSTAL_CODE = {"AE", "HK", "QA", "IE"}  # countries where addresses may have none
# Territories whose numbers are a country's own for delivery (the same numbering plan and
# postal service): a Jersey mobile is a UK number, a Puerto Rico one a US number.
PHONE_TERRITORIES = {
    "GB": {"JE", "GG", "IM"},
    "US": {"PR", "GU", "VI", "AS", "MP"},
    "FI": {"AX"},
    "NO": {"SJ"},
    "AU": {"CC", "CX"},
}


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or "\x00" in value:
        return None
    value = value.strip()
    return value if len(value) <= limit else None


def validate(fields: list[str], recipient: Any, country: str) -> tuple[dict, dict[str, str]]:
    """The cleaned recipient (only the fields the reward needs) and the problems found,
    by dotted field name (``recipient.postal_address.postal_code``)."""
    errors: dict[str, str] = {}
    if not isinstance(recipient, dict):
        return {}, {"recipient": "An object with the delivery details."}
    cleaned: dict[str, Any] = {}
    if "email" in fields:
        email = _text(recipient.get("email"), 254)
        try:
            validate_email(email or "")
            cleaned["email"] = email
        except ValidationError:
            errors["recipient.email"] = "A valid email address is required."
    if "phone" in fields:
        phone, error = _phone(recipient.get("phone"), country)
        if error:
            errors["recipient.phone"] = error
        else:
            cleaned["phone"] = phone
    if "postal_address" in fields:
        address, address_errors = _address(recipient.get("postal_address"), country)
        errors.update(address_errors)
        if not address_errors:
            cleaned["postal_address"] = address
    return cleaned, errors


def _phone(raw: Any, country: str) -> tuple[str, str]:
    """The number in E.164 and no error, or no number and what is wrong with it."""
    known = country in phonenumbers.SUPPORTED_REGIONS
    example = phone_example(country) if known else "+14155550100"
    text = _text(raw, PHONE_MAX_LENGTH)
    if not text:
        return "", f"A phone number in {country} is required, e.g. {example}."
    try:
        # A country the metadata does not know reads only international numbers.
        number = phonenumbers.parse(text, country if known else None)
    except phonenumbers.NumberParseException:
        return "", f"Not a phone number of {country}, e.g. {example}."
    if not phonenumbers.is_valid_number(number):
        return "", f"Not a valid phone number of {country}, e.g. {example}."
    region = phonenumbers.region_code_for_number(number)
    if known and region != country and region not in PHONE_TERRITORIES.get(country, ()):
        origin = f" (this one is of {region})" if region and region.isalpha() else ""
        return "", (
            f"The reward is delivered in {country} only: a phone number of {country} is"
            f" required{origin}."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


def phone_example(country: str) -> str:
    number = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if number is None:
        return "+14155550100"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_display(e164: str) -> str:
    """A kept number as people read it: ``+1 415-555-0132``."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _address(raw: Any, country: str) -> tuple[dict, dict[str, str]]:
    prefix = "recipient.postal_address"
    if not isinstance(raw, dict):
        return {}, {prefix: "A postal address is required."}
    errors: dict[str, str] = {}
    address: dict[str, str] = {}
    for name in ADDRESS_FIELDS:
        value = _text(raw.get(name, ""), 120)
        if value is None:
            errors[f"{prefix}.{name}"] = "Text of at most 120 characters."
        elif value:
            address[name] = value
    for name in REQUIRED_ADDRESS_FIELDS:
        if name not in address and f"{prefix}.{name}" not in errors:
            errors[f"{prefix}.{name}"] = "Required."
    if address.get("country", "").upper() not in ("", country):
        errors[f"{prefix}.country"] = f"The reward is delivered in {country} only."
    address["country"] = country
    code = address.get("postal_code", "")
    pattern = POSTAL_CODES.get(country, ANY_POSTAL_CODE)
    if not code and country not in NO_POSTAL_CODE:
        errors[f"{prefix}.postal_code"] = "Required."
    elif code and not re.fullmatch(pattern, code):
        errors[f"{prefix}.postal_code"] = f"Not a postal code of {country}."
    return address, errors
