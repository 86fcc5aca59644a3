"""What a merchant's help pages show: the published FAQ and the program terms in force.

The terms in force on a day are the highest published version whose effective date has
come, counted in the merchant's own time zone (a version effective "on the 1st" starts at
midnight where the merchant is). Versions not yet in force, and unpublished ones, are
never shown to members. Texts are read in the active language (django-modeltranslation
falls back to English for a text not translated), so callers choose the language with
``translation.override`` and ``help_language``.
"""

import datetime

from django.db.models import QuerySet
from django.utils import timezone, translation

from customercare.models import FAQEntry, ProgramTerms
from merchants.models import Merchant, MerchantStatus


def merchant_today(merchant: Merchant) -> datetime.date:
    return timezone.localdate(timezone=merchant.timezone)


def help_language(code: object) -> str | None:
    """``code`` as one of ``settings.LANGUAGES`` (``fr-CA`` and ``fr_FR`` are ``fr``), or
    ``None`` when it names none of them."""
    if not isinstance(code, str) or not code or len(code) > 20:
        return None
    try:
        return translation.get_supported_language_variant(translation.to_language(code))
    except LookupError:
        return None


def help_merchant(*, slug: str) -> Merchant | None:
    """The live merchant whose help pages ``slug`` names; ``None`` for any other."""
    return Merchant.objects.filter(slug=slug, status=MerchantStatus.LIVE).first()


def _in_force(merchant: Merchant, on: datetime.date) -> QuerySet[ProgramTerms]:
    return ProgramTerms.objects.filter(
        merchant=merchant, is_published=True, effective_on__lte=on
    ).order_by("-version")


def terms_current(*, merchant: Merchant, on: datetime.date | None = None) -> ProgramTerms | None:
    """The terms in force on ``on`` (the merchant's today by default), or ``None``."""
    return _in_force(merchant, on or merchant_today(merchant)).first()


def terms_history(*, merchant: Merchant, on: datetime.date | None = None) -> list[ProgramTerms]:
    """Every version that has been in force by ``on``, newest first: the one in force
    and the earlier ones it replaced."""
    return list(_in_force(merchant, on or merchant_today(merchant)))


def faq_published(*, merchant: Merchant) -> list[FAQEntry]:
    """The merchant's published FAQ entries in their order."""
    return list(
        FAQEntry.objects.filter(merchant=merchant, is_published=True).order_by("position", "id")
    )
