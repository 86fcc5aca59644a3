"""Which of the languages the product is written in a person is served in."""

from django.conf import settings
from django.utils import translation


def supported_language(locale: str | None) -> str:
    """A member's locale as one of ``settings.LANGUAGES`` (``fr-CA`` and ``fr_FR`` are
    ``fr``), the default language when it is empty or not one the product is written in."""
    if locale:
        try:
            return translation.get_supported_language_variant(translation.to_language(locale))
        except LookupError:
            pass
    return settings.LANGUAGE_CODE
