from django.db import models
from django.db.models import F, Q

from core.fields import CurrencyField


class ExchangeRate(models.Model):
    """One unit of ``base`` is worth ``rate`` units of ``quote`` from ``as_of`` on.

    The one source of rates for every app; a conversion keeps the row it used."""

    base = CurrencyField()
    quote = CurrencyField()
    rate = models.DecimalField(max_digits=24, decimal_places=10)
    source = models.CharField(max_length=100, default="manual")
    as_of = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["base", "quote", "-as_of"]
        constraints = [
            models.UniqueConstraint(fields=["base", "quote", "as_of"], name="rate_unique_as_of"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="rate_positive"),
            models.CheckConstraint(condition=~Q(base=F("quote")), name="rate_distinct_currencies"),
        ]
        indexes = [models.Index(fields=["base", "quote", "-as_of"], name="rate_latest")]

    def __str__(self) -> str:
        return f"1 {self.base} = {self.rate} {self.quote} ({self.as_of:%Y-%m-%d %H:%M})"
