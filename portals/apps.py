from django.apps import AppConfig


class PortalsConfig(AppConfig):
    """The faces that are not the admin: the merchant portal (``/portal/``) and, later, the
    member portal. Views and templates only: they call the selectors and services of the
    apps below."""

    name = "portals"
    verbose_name = "Portals"
    monthly_report_renderer = "portals.monthly.monthly_report_pdf"
