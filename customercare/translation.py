"""Which help-page texts are translatable (django-modeltranslation: a column per locale of
``settings.LANGUAGES``, English as the fallback)."""

from modeltranslation.translator import TranslationOptions, register

from customercare.models import CannedReply, FAQEntry, ProgramTerms


@register(FAQEntry)
class FAQEntryTranslation(TranslationOptions):
    fields = ("question", "answer")


@register(ProgramTerms)
class ProgramTermsTranslation(TranslationOptions):
    fields = ("body",)


@register(CannedReply)
class CannedReplyTranslation(TranslationOptions):
    fields = ("body",)
