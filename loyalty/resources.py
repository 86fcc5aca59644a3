"""Import and export of members (django-import-export): matched on merchant + external_id,
with a dry-run preview and errors per row in the admin. Balances are exported, never
imported: they only ever come from the ledger. The ``attributes`` column is a JSON object
checked against the merchant's attribute schema, as the API checks it."""

from import_export import fields, resources, widgets
from import_export.widgets import ForeignKeyWidget

from loyalty.attributes import InvalidAttribute, attributes_clean
from loyalty.models import ExchangeRate, Member
from loyalty.rates import rates_changed
from loyalty.selectors import attribute_schema
from loyalty.services.members import member_is_anonymised
from merchants.models import Merchant


class MerchantSlugWidget(ForeignKeyWidget):
    """A merchant by its slug; an unknown slug is an error of that row's field."""

    def __init__(self):
        super().__init__(Merchant, "slug")

    def clean(self, value, row=None, **kwargs):
        try:
            return super().clean(value, row, **kwargs)
        except Merchant.DoesNotExist:
            raise ValueError(f"No merchant with slug {value!r}.") from None


class MemberResource(resources.ModelResource):
    merchant = fields.Field(
        attribute="merchant", column_name="merchant", widget=MerchantSlugWidget()
    )
    points_balance = fields.Field(attribute="points_balance", readonly=True)
    pending_points = fields.Field(attribute="pending_points", readonly=True)
    lifetime_points = fields.Field(attribute="lifetime_points", readonly=True)
    tier = fields.Field(attribute="tier__name", column_name="tier", readonly=True)
    status = fields.Field(attribute="status", readonly=True)
    attributes = fields.Field(
        attribute="attributes", column_name="attributes", widget=widgets.JSONWidget()
    )

    class Meta:
        model = Member
        import_id_fields = ("merchant", "external_id")
        fields = (
            "merchant",
            "external_id",
            "email",
            "first_name",
            "last_name",
            "country",
            "locale",
            "birthday",
            "marketing_consent",
            "attributes",
            "status",
            "tier",
            "points_balance",
            "pending_points",
            "lifetime_points",
        )
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True

    def get_queryset(self):
        return super().get_queryset().select_related("merchant", "tier")

    def get_instance(self, instance_loader, row):
        # An unknown merchant matches no member; the row then fails on its merchant field,
        # reported with the other rows' errors instead of stopping the whole import.
        try:
            return super().get_instance(instance_loader, row)
        except ValueError:
            return None

    def before_save_instance(self, instance, row, **kwargs):
        if instance.pk and member_is_anonymised(member=instance):
            raise ValueError(f"Member {instance.external_id} is anonymised: not updated.")
        # The merchant's attribute schema, as the API checks it (an empty cell: none).
        values = instance.attributes if instance.attributes is not None else {}
        if not isinstance(values, dict):
            raise ValueError("attributes: give a JSON object.")
        try:
            instance.attributes = attributes_clean(
                attribute_schema(merchant=instance.merchant), values
            )
        except InvalidAttribute as error:
            raise ValueError(error.detail) from None


class ExchangeRateResource(resources.ModelResource):
    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
        if not kwargs.get("dry_run") and not result.has_errors():
            rates_changed(
                currencies={
                    str(row.get(name) or "").strip().upper()
                    for row in dataset.dict
                    for name in ("base", "quote")
                }
                - {""}
            )

    class Meta:
        model = ExchangeRate
        import_id_fields = ("base", "quote", "as_of")
        fields = ("base", "quote", "rate", "source", "as_of")
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
