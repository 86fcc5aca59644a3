"""The merchant portal's template tags: its navigation, points and money for people."""

from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency
from django import template
from django.urls import NoReverseMatch, reverse

from portals import roles

register = template.Library()

# The portal's navigation: label, URL name, the roles it is shown to. A page others add
# later (invoices, monthly reports) appears once its URL name exists.
NAV: list[tuple[str, str, frozenset[str]]] = [
    ("Dashboard", "portals:dashboard", roles.EVERYONE),
    ("Members", "portals:members", roles.MEMBERS),
    ("Members CSV", "portals:member_exports", roles.MEMBER_EXPORTS),
    ("Invoices", "portals:invoices", roles.INVOICES),
    ("Monthly reports", "portals:monthly_reports", roles.REPORTS),
    ("Referrals", "portals:referrals", roles.REPORTS),
    ("Team", "portals:team", roles.TEAM),
    ("Webhooks", "portals:webhooks", roles.WEBHOOKS),
    ("Account", "portals:account", roles.EVERYONE),
]


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    current: bool


@register.simple_tag(takes_context=True)
def portal_nav(context) -> list[NavLink]:
    request = context["request"]
    portal = getattr(request, "portal", None)
    if portal is None:
        return []
    found = []
    for label, name, allowed in NAV:
        if portal.role not in allowed:
            continue
        try:
            found.append((label, reverse(name)))
        except NoReverseMatch:
            continue
    # The current page is the link whose URL is the longest start of the path (the
    # dashboard only for itself): /members/exports/ is "Members CSV", not "Members".
    dashboard = reverse("portals:dashboard")
    starts = [
        url
        for _, url in found
        if request.path == url or (url != dashboard and request.path.startswith(url))
    ]
    here = max(starts, key=len, default=None)
    return [NavLink(label=label, url=url, current=url == here) for label, url in found]


@register.filter
def points(value: int | None) -> str:
    """``12345`` → ``12,345``."""
    if value is None:
        return "\u2013"
    return f"{int(value):,}"


@register.simple_tag
def money(amount: Decimal | None, currency: str) -> str:
    """``Decimal("499.0000"), "EUR"`` → ``€499.00`` (the currency's own decimals)."""
    if amount is None:
        return "\u2013"
    return format_currency(amount, currency, locale="en")
