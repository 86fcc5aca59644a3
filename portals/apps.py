from django.apps import AppConfig


class PortalsConfig(AppConfig):
    """The faces that are not the admin: the merchant portal (``/portal/``) and, later, the
    member portal. Views and templates only: they call the selectors and services of the
    apps below."""

    name = "portals"
    verbose_name = "Portals"
    monthly_report_renderer = "portals.monthly.monthly_report_pdf"
    demo_seed = "portals.demo.seed"
    # A program's currency, point value and tiers are in every figure of its reports.
    on_program_saved = "portals.snapshots.program_saved"
    periodic_tasks = [
        {
            "name": "Refresh report snapshots",
            "task": "portals.refresh_report_snapshots",
            "crontab": "* * * * *",
            "description": "Computes the dashboard's periods for every live merchant when "
            "their figures changed, so a report page reads them instead of computing them.",
        },
        {
            "name": "Make the members CSV",
            "task": "portals.make_member_exports",
            "crontab": "30 2 * * *",
            "description": "Writes each live merchant's members (balances, tier, segments, "
            "consent) to a CSV its owners download from the portal; keeps a week of them.",
        },
    ]

    def ready(self) -> None:
        # django-allauth registers its models (email addresses, authenticators) in the
        # admin. Portal users are managed on the merchant's page and in the portal's team
        # page; an authenticator's secret is nothing for staff to browse. Taken off the
        # ops site, which has discovered every admin module by now (the admin app is first).
        from django.contrib import admin

        from portals import view_as  # noqa: F401  (signing out ends a view-as)

        for model in list(admin.site._registry):
            if model._meta.app_label in {"account", "mfa"}:
                admin.site.unregister(model)
