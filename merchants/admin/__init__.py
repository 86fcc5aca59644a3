"""Admin for the provider's operations staff. Every action calls a service in
``merchants.services``; nothing here changes a status or a key by itself."""

from django.contrib import admin
from rest_framework_api_key.models import APIKey

from merchants.admin import invoices, merchant_pages, records, webhooks

# The library's own key model is unused: keys here are MerchantAPIKey, issued per merchant.
admin.site.unregister(APIKey)

__all__ = ["invoices", "merchant_pages", "records", "webhooks"]
