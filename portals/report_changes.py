"""The change of a report's figure against the previous period, in words for the
reader: ``+12.5%``, ``-3%`` (with a minus sign), ``new`` when the previous was nothing."""

from decimal import Decimal

from django.utils.translation import gettext as _

from core.formatting import MINUS, MISSING, change_direction, change_ratio, percent_text


def change(
    current: int | Decimal | None, previous: int | Decimal | None, *, locale: str | None = None
) -> str:
    """The signed change against the previous period, at most one decimal: ``+12.5%``,
    ``-3%`` (a minus sign, U+2212), ``0%``; ``new`` when the previous was 0, a dash when
    a figure is missing."""
    direction = change_direction(current, previous)
    if direction == "none":
        return MISSING
    if direction == "new":
        return _("new")
    ratio = change_ratio(current, previous) or Decimal(0)
    text = percent_text(abs(ratio), least=0, most=1, locale=locale)
    if text == percent_text(Decimal(0), least=0, most=1, locale=locale):
        return text
    return ("+" if ratio > 0 else MINUS) + text
