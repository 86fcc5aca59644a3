"""Which catalog texts are translatable (django-modeltranslation: a column per locale of
``settings.LANGUAGES``, English as the fallback)."""

from modeltranslation.translator import TranslationOptions, register

from catalog.models import Brand, Category, Reward


@register(Category)
class CategoryTranslation(TranslationOptions):
    fields = ("name",)


@register(Brand)
class BrandTranslation(TranslationOptions):
    fields = ("description", "terms", "disclaimer", "redemption_instructions")


@register(Reward)
class RewardTranslation(TranslationOptions):
    fields = ("name", "description", "terms")
