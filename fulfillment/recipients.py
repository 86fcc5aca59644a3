"""Delivery details a reward needs (``Reward.recipient_fields``), checked per country.
Pure: no ORM."""

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164
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
        phone = _text(recipient.get("phone"), 20)
        if phone and PHONE.match(phone.replace(" ", "")):
            cleaned["phone"] = phone.replace(" ", "")
        else:
            errors["recipient.phone"] = "A phone number in international form, e.g. +14155550100."
    if "postal_address" in fields:
        address, address_errors = _address(recipient.get("postal_address"), country)
        errors.update(address_errors)
        if not address_errors:
            cleaned["postal_address"] = address
    return cleaned, errors


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
