"""A merchant's help pages: FAQ entries and versioned program terms (texts translated
with django-modeltranslation, see ``customercare/translation.py``)."""

from django.db import models
from django.db.models import Q

from merchants.models import Merchant


class FAQEntry(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="faq")
    question = models.CharField(max_length=300)
    answer = models.TextField()
    position = models.PositiveSmallIntegerField(default=0)
    is_published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant_id", "position", "id"]
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"

    def __str__(self) -> str:
        return self.question


class ProgramTerms(models.Model):
    """One version of the program's terms. The terms in force are the highest published
    version whose effective date has come; a version is never edited once in force."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="terms")
    version = models.PositiveIntegerField()
    effective_on = models.DateField()
    body = models.TextField()
    is_published = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["merchant_id", "-version"]
        verbose_name = "program terms"
        verbose_name_plural = "program terms"
        constraints = [
            models.UniqueConstraint(fields=["merchant", "version"], name="terms_version_once"),
            models.CheckConstraint(condition=Q(version__gte=1), name="terms_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant} terms v{self.version}"
