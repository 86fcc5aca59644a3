"""Every URL of the ``portals`` namespace, read from Django's resolver, so the tables of
the tenancy and role tests can be checked against it: a new portal URL without a row
fails them."""

from django.urls import URLPattern, URLResolver, get_resolver


def _names(patterns, prefix: str = "") -> set[str]:
    found: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            found |= _names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            found.add(f"{prefix}{pattern.name}")
    return found


def portal_url_names() -> set[str]:
    """``{"dashboard", "members", ...}``: the names under ``portals:``."""
    _, resolver = get_resolver().namespace_dict["portals"]
    return _names(resolver.url_patterns)
