"""Import and export of the catalog (django-import-export): brands and rewards matched on
their slug, supplier offers on supplier + SKU + country.

A file is imported whole or not at all: every row is checked (rewards with the rules of
``reward_save``, which also saves them), and a single bad row rolls the whole file back
with the errors of each row. Rows that change nothing are skipped, so importing the same
file twice writes nothing the second time (no new rows, no new history rows)."""

from copy import deepcopy
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import Model, QuerySet
from import_export import fields, resources
from import_export.results import Result
from import_export.widgets import CharWidget, ForeignKeyWidget, ManyToManyWidget, Widget

from catalog import denominations, services
from catalog.models import Brand, Category, Reward, Supplier, SupplierOffer
from core.actors import Actor
from core.exceptions import DomainError

LIST_SEPARATOR = "|"


def translated_columns(*names: str) -> tuple[str, ...]:
    """The per-locale columns of translated fields, the default language's excepted (it is
    the plain column: ``name`` is the English name)."""
    default = settings.MODELTRANSLATION_DEFAULT_LANGUAGE
    return tuple(
        f"{name}_{code}" for name in names for code, _ in settings.LANGUAGES if code != default
    )


# -- widgets -------------------------------------------------------------------------------


class SlugWidget(ForeignKeyWidget):
    """A row by its slug; an unknown slug is an error of that row's field."""

    def __init__(self, model: type[Model]) -> None:
        super().__init__(model, "slug")

    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> Model | None:
        try:
            return super().clean(value, row, **kwargs)
        except self.model.DoesNotExist:
            raise ValueError(f"No {self.model._meta.verbose_name} with slug {value!r}.") from None


class SlugListWidget(ManyToManyWidget):
    """Related rows by their slugs, ``a|b``; an unknown slug is an error."""

    def __init__(self, model: type[Model]) -> None:
        super().__init__(model, separator=LIST_SEPARATOR, field="slug")

    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> QuerySet:
        slugs = [s.strip() for s in str(value or "").split(self.separator) if s.strip()]
        found = self.model.objects.filter(slug__in=slugs)
        missing = set(slugs) - {obj.slug for obj in found}
        if missing:
            name = self.model._meta.verbose_name
            raise ValueError(f"No {name} with slug {', '.join(sorted(missing))}.")
        return found


class PipeListWidget(Widget):
    """A JSON list of texts, written ``a|b|c`` in a file."""

    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> list[str]:
        if value is None:
            return []
        return [part.strip() for part in str(value).split(LIST_SEPARATOR) if part.strip()]

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return LIST_SEPARATOR.join(str(part) for part in value or ())


class RecipientFieldsWidget(PipeListWidget):
    """``email|phone``, in the order ``reward_save`` keeps them (sorted, once each), so an
    unchanged row compares equal to what is stored."""

    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> list[str]:
        return sorted(set(super().clean(value, row, **kwargs)))


class DenominationsWidget(PipeListWidget):
    """``10|25|50``. Each value is written as the reward stores it (with its currency's
    decimals, in ascending order) so that an unchanged row compares equal to what is
    stored; a value that is not a valid amount is kept as it is, for ``reward_validate``
    to report."""

    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> list[str]:
        raw = super().clean(value, row, **kwargs)
        currency = str((row or {}).get("face_currency") or "").strip()
        parsed = [denominations.parse_value(part) for part in raw]
        if not currency or any(v is None for v in parsed):
            return raw
        written = [denominations.canonical(v, currency) for v in parsed if v is not None]
        if any(Decimal(text) != v for text, v in zip(written, parsed, strict=True)):
            return raw  # more decimals than the currency has: left for the validation
        return [text for _, text in sorted(zip(parsed, written, strict=True))]


class NullableTextWidget(CharWidget):
    """An empty cell is NULL (an untranslated text is stored NULL), so that an exported row
    re-imported compares equal to what is stored."""

    def __init__(self, coerce_to_string: bool = True, allow_blank: bool = False) -> None:
        super().__init__(coerce_to_string=coerce_to_string, allow_blank=allow_blank)

    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> str | None:
        return None if value in (None, "") else super().clean(value, row, **kwargs)


class CountryWidget(CharWidget):
    """A country code, ``FR``."""

    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> str:
        return str(value or "").strip().upper()

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return getattr(value, "code", None) or str(value or "")


class CountriesWidget(Widget):
    """Country codes, ``FR,DE``."""

    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> list[str]:
        return [code.strip().upper() for code in str(value or "").split(",") if code.strip()]

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return ",".join(getattr(country, "code", str(country)) for country in value or ())


# -- resources -----------------------------------------------------------------------------


class CatalogResource(resources.ModelResource):
    """What every catalog import shares: one transaction for the file, rolled back when any
    row is invalid (also at the confirm step, should a row have turned bad since the
    preview), and rows that change nothing skipped."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.actor: Actor = Actor.system("import")

    @classmethod
    def widget_from_django_field(cls, f: Any, default: type[Widget] = Widget) -> type[Widget]:
        if isinstance(f, models.CharField | models.TextField):
            return NullableTextWidget if f.null else CharWidget
        return super().widget_from_django_field(f, default)

    def import_data(self, dataset: Any, **kwargs: Any) -> Result:
        kwargs.setdefault("rollback_on_validation_errors", True)
        kwargs.setdefault("use_transactions", True)
        return super().import_data(dataset, **kwargs)

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        self.actor = Actor.staff(kwargs.get("user"))

    def import_instance(self, instance: Model, row: dict, **kwargs: Any) -> None:
        # Related lists (m2m) are only written after the save; checking them here puts an
        # unknown slug among the row's errors instead of failing the row with a traceback.
        errors: dict[str, Any] = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        for field in self.get_import_fields():
            if isinstance(field.widget, ManyToManyWidget) and field.column_name in row:
                try:
                    field.clean(row)
                except ValueError as exc:
                    errors[field.attribute] = ValidationError(str(exc), code="invalid")
        if errors:
            raise ValidationError(errors)


def _error_of(error: DomainError) -> ValidationError:
    return ValidationError({error.field or NON_FIELD_ERRORS: [error.detail]})


class CategoryResource(CatalogResource):
    class Meta:
        model = Category
        import_id_fields = ("slug",)
        fields = ("slug", "name", *translated_columns("name"))
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True


BRAND_TEXTS = ("description", "terms", "disclaimer", "redemption_instructions")


class BrandResource(CatalogResource):
    categories = fields.Field(
        attribute="categories", column_name="categories", widget=SlugListWidget(Category)
    )

    class Meta:
        model = Brand
        import_id_fields = ("slug",)
        fields = ("slug", "name", *BRAND_TEXTS, "categories", *translated_columns(*BRAND_TEXTS))
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().prefetch_related("categories")


REWARD_TEXTS = ("name", "description", "terms")


class RewardResource(CatalogResource):
    """Rewards are validated and saved by ``reward_save`` (a change of face values reprices
    the merchants' items); a change of status goes through ``rewards_set_status``."""

    brand = fields.Field(attribute="brand", column_name="brand", widget=SlugWidget(Brand))
    countries = fields.Field(
        attribute="countries", column_name="countries", widget=CountriesWidget()
    )
    denominations = fields.Field(
        attribute="denominations", column_name="denominations", widget=DenominationsWidget()
    )
    recipient_fields = fields.Field(
        attribute="recipient_fields", column_name="recipient_fields", widget=RecipientFieldsWidget()
    )

    class Meta:
        model = Reward
        import_id_fields = ("slug",)
        fields = (
            "slug",
            "brand",
            "type",
            "status",
            "name",
            "description",
            "terms",
            "countries",
            "face_currency",
            "denomination_kind",
            "denominations",
            "min_value",
            "max_value",
            "step",
            "delivered_expiry_months",
            "recipient_fields",
            *translated_columns(*REWARD_TEXTS),
        )
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().select_related("brand")

    def _values(self, instance: Reward) -> dict[str, Any]:
        return {
            field.column_name: deepcopy(field.get_value(instance))
            for field in self.get_import_fields()
            if field.attribute != "status"
        }

    def import_instance(self, instance: Model, row: dict, **kwargs: Any) -> None:
        assert isinstance(instance, Reward)
        # What is stored, to tell a change of status alone (one history row, by the status
        # service) from a change of the reward itself (by reward_save).
        instance._stored = (instance.status, self._values(instance)) if instance.pk else None
        errors: dict[str, Any] = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        try:
            services.reward_validate(reward=instance)
        except DomainError as error:
            errors = _error_of(error).update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def do_instance_save(self, instance: Model, is_create: bool) -> None:
        assert isinstance(instance, Reward)
        stored = getattr(instance, "_stored", None)
        try:
            if stored is None:
                services.reward_save(reward=instance, actor=self.actor)
                return
            stored_status, stored_values = stored
            new_status = instance.status
            instance.status = stored_status
            if self._values(instance) != stored_values:
                services.reward_save(reward=instance, actor=self.actor)
            if new_status != stored_status:
                services.rewards_set_status(rewards=[instance], status=new_status, actor=self.actor)
                instance.status = new_status
        except DomainError as error:
            raise _error_of(error) from error


class SupplierOfferResource(CatalogResource):
    reward = fields.Field(attribute="reward", column_name="reward", widget=SlugWidget(Reward))
    supplier = fields.Field(
        attribute="supplier", column_name="supplier", widget=SlugWidget(Supplier)
    )
    country = fields.Field(attribute="country", column_name="country", widget=CountryWidget())

    class Meta:
        model = SupplierOffer
        import_id_fields = ("supplier", "supplier_sku", "country")
        fields = (
            "supplier",
            "supplier_sku",
            "country",
            "reward",
            "cost_currency",
            "discount_percent",
            "fee",
            "stock",
            "preference",
            "is_active",
        )
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().select_related("reward", "supplier")

    def get_instance(self, instance_loader: Any, row: dict) -> Model | None:
        # An unknown supplier matches no offer; the row then fails on its supplier field,
        # reported with the other rows' errors.
        try:
            return super().get_instance(instance_loader, row)
        except ValueError:
            return None
