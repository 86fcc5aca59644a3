"""Which loyalty texts are translatable (django-modeltranslation: a column per locale of
``settings.LANGUAGES``, English as the fallback)."""

from modeltranslation.translator import TranslationOptions, register

from loyalty.models import Achievement


@register(Achievement)
class AchievementTranslation(TranslationOptions):
    fields = ("name", "description")
