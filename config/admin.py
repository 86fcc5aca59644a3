from django.conf import settings
from django.contrib import admin


class OpsAdminSite(admin.AdminSite):
    site_header = settings.PROVIDER_NAME
    site_title = f"{settings.PROVIDER_NAME} back office"
    index_title = "Merchants, programs, rewards, fulfillment and care"
