from django.db import models


class Category(models.Model):
    """A browsing category of rewards (e.g. "Dining", "Travel")."""

    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Brand(models.Model):
    """Whose reward it is. The texts are translatable (one column per locale of
    ``settings.LANGUAGES``; English is the fallback)."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    logo = models.ImageField(upload_to="brands/logos/", blank=True)
    card_image = models.ImageField(upload_to="brands/cards/", blank=True)
    categories = models.ManyToManyField(Category, blank=True, related_name="brands")
    terms = models.TextField(blank=True)
    disclaimer = models.TextField(blank=True)
    redemption_instructions = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
