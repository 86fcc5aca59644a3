"""Import and export of members (django-import-export): matched on merchant + external_id,
with a dry-run preview and errors per row in the admin. Balances are exported, never
imported: they only ever come from the ledger."""

from import_export import fields, resources
from import_export.widgets import ForeignKeyWidget

from loyalty.models import ExchangeRate, Member
from merchants.models import Merchant


class MemberResource(resources.ModelResource):
    merchant = fields.Field(
        attribute="merchant", column_name="merchant", widget=ForeignKeyWidget(Merchant, "slug")
    )
    points_balance = fields.Field(attribute="points_balance", readonly=True)
    pending_points = fields.Field(attribute="pending_points", readonly=True)
    lifetime_points = fields.Field(attribute="lifetime_points", readonly=True)
    tier = fields.Field(attribute="tier__name", column_name="tier", readonly=True)
    status = fields.Field(attribute="status", readonly=True)

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

    def before_save_instance(self, instance, row, **kwargs):
        if instance.pk and instance.status == "anonymised":
            raise ValueError(f"Member {instance.external_id} is anonymised: not updated.")

    def before_import_row(self, row, **kwargs):
        if row.get("merchant") and not Merchant.objects.filter(slug=row["merchant"]).exists():
            raise ValueError(f"No merchant with slug {row['merchant']!r}.")


class ExchangeRateResource(resources.ModelResource):
    class Meta:
        model = ExchangeRate
        import_id_fields = ("base", "quote", "as_of")
        fields = ("base", "quote", "rate", "source", "as_of")
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
