from django.urls import path

from integrations.api import views

urlpatterns = [
    path(
        "integrations/shopify/<str:store_public_id>/webhooks/",
        views.ShopifyWebhookView.as_view(),
        name="api-shopify-webhooks",
    ),
    path(
        "integrations/woocommerce/<str:store_public_id>/webhooks/",
        views.WooCommerceWebhookView.as_view(),
        name="api-woocommerce-webhooks",
    ),
]
