from django.contrib.admin.apps import AdminConfig


class OpsAdminConfig(AdminConfig):
    """The Django admin, branded for the provider's operations staff."""

    default_site = "config.admin.OpsAdminSite"

    def ready(self) -> None:
        super().ready()
        # Every app's admin module is registered by now; the libraries' models take the
        # admin frame's classes in their place.
        from config import library_admins

        library_admins.register()
