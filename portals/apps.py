from django.apps import AppConfig


class PortalsConfig(AppConfig):
    """The faces that are not the admin: the merchant portal (``/portal/``) and, later, the
    member portal. Views and templates only: they call the selectors and services of the
    apps below."""

    name = "portals"
    verbose_name = "Portals"
    monthly_report_renderer = "portals.monthly.monthly_report_pdf"
    demo_seed = "portals.demo.seed"

    def ready(self) -> None:
        # django-allauth registers its models (email addresses, authenticators) in the
        # admin. Portal users are managed on the merchant's page and in the portal's team
        # page; an authenticator's secret is nothing for staff to browse. Taken off the
        # ops site, which has discovered every admin module by now (the admin app is first).
        from django.contrib import admin

        for model in list(admin.site._registry):
            if model._meta.app_label in {"account", "mfa"}:
                admin.site.unregister(model)
