"""What the catalog's admin pages share: the filter by country."""

import re

from django.db.models import Q

COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


def in_country(code: str) -> Q:
    """Rewards redeemable in ``code``: ``countries`` is stored as ``DE,FR``."""
    if not COUNTRY_CODE.match(code):
        raise ValueError(f"Not a country code: {code!r}")
    return Q(countries__regex=rf"(^|,){code}(,|$)")
