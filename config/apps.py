from django.contrib.admin.apps import AdminConfig


class OpsAdminConfig(AdminConfig):
    """The Django admin, branded for the provider's operations staff."""

    default_site = "config.admin.OpsAdminSite"
